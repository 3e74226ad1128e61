"""``faultlab campaign``: the options of your own network and data, and every door's run through the one
front door (``faultlab.campaign.session``) that ``faultlab.run`` and the sweep use, so all write identical rows.

    faultlab campaign --model torchvision:resnet18 --model-args num_classes=10 --weights resnet18.pt \\
        --data tensors:test.pt --fault 'stuck_at(sa0=0.01,sa1={rate})' --rates 0,0.01 --trials 30
"""

from __future__ import annotations

import argparse


def data_source(args: argparse.Namespace, spec):
    """The test data of ``--data`` (with its options) as a ``faultlab.data.specs.DataSource``."""
    from faultlab._imports import parse_kwargs
    from faultlab.data.specs import resolve_data

    source = resolve_data(args.data, data_args=parse_kwargs(args.data_args, "--data-args"), data_dir=args.data_dir,
                          eval_subset=spec.eval_subset, image_size=args.image_size, normalize=args.normalize)
    if spec.bn_recalibration and source.train_batches is None:
        from faultlab.campaign import CampaignError

        raise CampaignError(f"--bn-recalibration needs training batches, which --data {args.data} has not; "
                            "use a built-in data set or a LightningDataModule")
    return source


def run_own_model(args: argparse.Namespace, spec, device: str) -> None:
    """``--model/--weights``: the network opened through the one front door (``open_model``), like every door."""
    from faultlab._imports import parse_kwargs
    from faultlab.campaign import CampaignError
    from faultlab.campaign.session import open_model

    if args.checkpoint is not None:
        raise CampaignError("give either --checkpoint (a faultlab fit checkpoint) or --model/--weights, not both")
    model_args = parse_kwargs(args.model_args, "--model-args")
    source = data_source(args, spec)
    session = open_model(args.model, args.weights, source, model_args=model_args, network=args.network,
                         study=args.study, method=args.method or "vanilla", train_seed=args.train_seed,
                         metric=args.metric, device=device)
    run_session(args, spec, session)


def run_checkpoint(args: argparse.Namespace, spec, device: str) -> None:
    """``--checkpoint``: a ``faultlab fit`` checkpoint opened through the one front door (``open_checkpoint``)."""
    from faultlab.campaign.metrics import resolve_metric
    from faultlab.campaign.session import open_checkpoint

    metric = resolve_metric(args.metric)  # a bad metric fails before anything loads
    session = open_checkpoint(args.checkpoint, lambda: data_source(args, spec), study=args.study, method=args.method,
                              train_seed=args.train_seed, device=device, metric=metric)
    if args.compile:
        import torch

        session.forward = torch.compile(session.net)
    run_session(args, spec, session)


def run_session(args: argparse.Namespace, spec, session) -> None:
    """Run the campaign of an opened session into ``--store`` (everything was loaded and checked before the
    store is opened: a bad input writes nothing) and print its one-line summary; with --dry-run, its plan."""
    from faultlab.store import ResultsStore

    from ._guards import interruptible

    if args.get("dry_run", False):
        return dry_run(args, spec, session)
    run = session.run
    with interruptible(lambda: stored_trials(args.store, run.run_id)), ResultsStore(args.store) as store:
        result = session.campaign(spec, store, progress="auto")
    run = result.run
    print(f"run {run.run_id} ({run.variant}, {run.method}): clean accuracy {result.clean.accuracy:.4f} "
          f"on {len(session.y)} test samples; {sum(c.new_trials for c in result.cells)} new trials in {args.store}")


def stored_trials(store: str, run_id: str) -> str:
    """What an interrupted campaign leaves: the run's trials in the store."""
    from faultlab.store import ResultsStore

    with ResultsStore(store, read_only=True) as s:
        return f"{s.count_trials(run_id=run_id)} trials of run {run_id} are stored in {store}"


def dry_run(args: argparse.Namespace, spec, session) -> None:
    """``--dry-run``: the layers or groups the campaign faults, its cells and trials per cell, the trials
    ``--store`` holds already (read-only), and a time estimate from a few trials measured on this network and
    data (``faultlab.campaign.estimate``: run into memory); nothing is written."""
    import torch

    from faultlab.campaign import CampaignError
    from faultlab.campaign.estimate import campaign_plan, estimate_line, stored_of_plan, trial_seconds

    if spec.eval_subset is not None and spec.eval_subset > len(session.y):  # as the campaign refuses it
        raise CampaignError(f"eval_subset={spec.eval_subset} exceeds the {len(session.y)} test samples given")
    plan = campaign_plan(session.net, spec)
    run = session.run
    n = len(session.y) if spec.eval_subset is None else spec.eval_subset
    print(f"dry run: run {run.run_id} ({run.variant}, {run.method}) on {n} test samples; nothing is written")
    for line in plan.lines():
        print(line)
    stored = stored_of_plan(args.store, session, plan)
    low, high = (max(0, total - (stored or 0)) for total in plan.total)
    timing = trial_seconds(session, spec)
    left, total = (str(a) if a == b else f"{a}-{b}" for a, b in ((low, high), plan.total))
    print(f"to do: {left} trials" + ("" if stored is None else f" of {total} ({stored} already in {args.store})"))
    basis = timing.basis(", whole network (a trial of one layer or group costs at most this)" if spec.mode else "")
    setup = timing.setup if high else 0.0  # a campaign with trials left evaluates clean first
    print(estimate_line(setup + low * timing.seconds, setup + high * timing.seconds, basis, torch.get_num_threads(),
                        uncounted="opening the network and data"))
