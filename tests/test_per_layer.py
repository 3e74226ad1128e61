"""Per-layer sensitivity: equal-count faults, layer-group scopes, prefix caching, the store migration."""

import sqlite3
import time

import pytest
import torch
from torch import nn

import architectures
from faultlab.campaign import CampaignError, CampaignSpec, RunInfo, run_campaign
from faultlab.campaign.evaluation import evaluate
from faultlab.campaign.prefix import PrefixSplit
from faultlab.campaign.scopes import campaign_scopes, trial_keys
from faultlab.faults import exact_count_masks, full_rate_fault, layer_groups, make_generator, parse_fault
from faultlab.injection import ExactCount, inject, trial_seeds
from faultlab.selector import LayerSelector
from faultlab.store import ResultsStore
from faultlab.store.migrations import MIGRATIONS, split_statements


@pytest.fixture(scope="module")
def mobile():
    torch.manual_seed(0)
    net = architectures.build("mini_mobilenet_n", n=2, in_channels=1, num_classes=10).eval()
    x, y = torch.randn(96, 1, 28, 28), torch.randint(0, 10, (96,))
    return net, x, y


def test_exact_count_masks_place_exactly_k_without_replacement():
    for k in (0, 1, 17, 60):
        masks = exact_count_masks([10, 20, 30], k, make_generator(k))
        assert [m.numel() for m in masks] == [10, 20, 30]
        assert int(sum(m.sum() for m in masks)) == k
    a = exact_count_masks([100], 5, make_generator(3))[0]
    assert torch.equal(a, exact_count_masks([100], 5, make_generator(3))[0])
    assert not torch.equal(a, exact_count_masks([100], 5, make_generator(4))[0])


def test_full_rate_fault_rejects_templates_that_do_not_fault_every_weight():
    assert full_rate_fault("drop(p={rate})") == parse_fault("drop(p=1)")
    for bad in ("gaussian_mult(sigma={rate})", "read_noise(sigma={rate})", "stuck_at(sa0=0.1,sa1={rate})"):
        with pytest.raises(ValueError):
            full_rate_fault(bad)


@pytest.mark.parametrize("k", [1, 7, 50])
def test_equal_count_faults_exactly_k_weights_in_the_chosen_layer_and_none_elsewhere(mobile, k):
    net, _, _ = mobile
    layers = LayerSelector().select(net)
    target = layers[2]
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    with inject(net, full_rate_fault("drop(p={rate})"), [target], {target: 11}, ExactCount(k, 99)) as draws:
        after = {n: p.detach().clone() for n, p in net.named_parameters()}
    assert int(draws[target].faulty.sum()) == k
    changed = {n: int((before[n] != after[n]).sum()) for n in before}
    assert changed.pop(f"{target}.weight") == k  # random-init weights are never exactly 0 already
    assert all(v == 0 for v in changed.values())
    assert (after[f"{target}.weight"][draws[target].faulty] == 0).all()
    assert all(torch.equal(p, before[n]) for n, p in net.named_parameters())  # restored


def test_layer_groups_and_group_scopes(mobile):
    net, _, _ = mobile
    layers = LayerSelector().select(net)
    groups = layer_groups(net, layers)
    assert groups[layers[0]] == "stem" and groups[layers[-1]] == "classifier"
    assert {"depthwise", "pointwise"} <= set(groups.values())
    scopes = campaign_scopes(net, layers, "group")
    assert [s.label for s in scopes][0] == "group:stem"
    assert sorted(n for s in scopes for n in s.layers) == sorted(layers)
    assert all(groups[n] == s.group for s in scopes for n in s.layers)


def test_equal_count_campaign_rows(mobile, tmp_path):
    net, x, y = mobile
    layers = LayerSelector(kinds=("depthwise", "pointwise")).select(net)
    spec = CampaignSpec("drop(p={rate})", [], trials=2, per_layer=True, equal_count=[4, 16],
                        layers=LayerSelector(kinds=("depthwise", "pointwise")))
    with ResultsStore(tmp_path / "c.sqlite") as store:
        run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
        df = store.to_frame()
    assert len(df) == len(layers) * 2 * 2
    sizes = {n: m.weight.numel() for n, m in net.named_modules() if n in layers}
    assert set(df.equal_count) == {4, 16}
    assert (df.rate - df.equal_count / df.layer.map(sizes)).abs().max() < 1e-12
    assert set(df.layer_group) == {"depthwise", "pointwise"}
    # any row is re-created from its key: the exact-count map of that layer alone
    row = df.iloc[5]
    scope = next(s for s in campaign_scopes(net, layers, "layer") if s.label == row.layer)
    seeds, exact = trial_keys(spec, scope, row.rate, int(row.equal_count), int(row.trial))
    assert exact.seed == row.fault_seed
    with inject(net, full_rate_fault(spec.fault), scope.layers, seeds, exact):
        assert evaluate(net, x, y).accuracy == pytest.approx(row.accuracy, abs=1e-7)


def test_group_campaign_uses_the_whole_network_maps_of_its_layers(mobile, tmp_path):
    net, x, y = mobile
    spec = CampaignSpec("drop(p={rate})", [0.3], trials=2, per_layer="group")
    with ResultsStore(tmp_path / "g.sqlite") as store:
        run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
        df = store.to_frame()
    assert all(label.startswith("group:") for label in df.layer)
    assert (df.layer == "group:" + df.layer_group).all()
    layers = LayerSelector().select(net)
    dw = [n for n, g in layer_groups(net, layers).items() if g == "depthwise"]
    row = df[(df.layer == "group:depthwise") & (df.trial == 1)].iloc[0]
    with inject(net, parse_fault("drop(p=0.3)"), dw, trial_seeds(0, dw, spec.fault, 0.3, 1)):
        assert evaluate(net, x, y).accuracy == pytest.approx(row.accuracy, abs=1e-7)


def test_bad_equal_count_specs_write_nothing(mobile, tmp_path):
    net, x, y = mobile
    path = tmp_path / "bad.sqlite"
    bad = [
        (CampaignSpec("drop(p={rate})", [], equal_count=[10**6], per_layer=True), "exceeds"),
        (CampaignSpec("drop(p={rate})", [0.1], equal_count=[4], per_layer=True), "not both"),
        (CampaignSpec("drop(p={rate})", [], equal_count=[4]), "per-layer"),
        (CampaignSpec("drop(p={rate})", [], equal_count=[0], per_layer=True), "positive"),
        (CampaignSpec("gaussian_add(sigma={rate})", [], equal_count=[4], per_layer=True), "equal-count needs"),
        (CampaignSpec("drop(p={rate})", [0.1], per_layer="rows"), "per_layer"),
    ]
    with ResultsStore(path) as store:
        for spec, message in bad:
            with pytest.raises(CampaignError, match=message):
                run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
        assert store.count_trials() == 0 and store.get_run("r") is None


# ------------------------------------------------------------------------------------ prefix caching


@pytest.mark.parametrize("arch,shape", [("resnet20", (3, 32, 32)), ("mobilenetv2_cifar", (3, 32, 32)),
                                        ("mini_mobilenet", (1, 28, 28)), ("mlp", (784,))])
def test_prefix_cache_gives_the_full_pass_logits_bit_for_bit(arch, shape):
    torch.manual_seed(0)
    net = architectures.build_for_input(arch, 10, shape).eval()
    if arch == "resnet20":  # non-trivial BatchNorm statistics
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2)
    x = torch.randn(12, *shape)
    split = PrefixSplit.trace(net)
    layers = LayerSelector().select(net)
    def batched(model):  # the campaign's batching (GEMM results depend on the batch size)
        return torch.cat([model(x[i : i + 5]) for i in range(0, len(x), 5)])

    with torch.no_grad():
        full = batched(net)
        for layer in layers[:: max(1, len(layers) // 8)] + [layers[-1]]:
            suffix = split.suffix([layer])
            cached = suffix.cache(x, 5)
            assert torch.equal(torch.cat([suffix(*c) for c in cached]), full), layer
            with inject(net, parse_fault("drop(p=0.3)"), [layer], 5):  # the suffix sees in-place faults
                assert torch.equal(torch.cat([suffix(*c) for c in cached]), batched(net)), layer


class _InplaceResidual(nn.Module):
    """A cached clean value (the shortcut) is the target of an in-place add downstream of the fault."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.head = nn.Linear(6, 6), nn.Linear(6, 6), nn.Linear(6, 3)

    def forward(self, x):
        shortcut = self.a(x)
        shortcut.add_(self.b(x))  # (fx records ``+=`` on a proxy as an out-of-place add; add_ stays in place)
        return self.head(torch.relu(shortcut))


def test_prefix_cache_copies_values_that_downstream_ops_modify_in_place():
    torch.manual_seed(0)
    net = _InplaceResidual().eval()
    x = torch.randn(8, 6)
    suffix = PrefixSplit.trace(net).suffix(["b"])
    assert suffix.mutated
    cached = suffix.cache(x, 8)
    snapshot = [t.clone() for t in cached[0]]
    with torch.no_grad():
        for _ in range(2):
            assert torch.equal(suffix(*cached[0]), net(x))
    assert all(torch.equal(a, b) for a, b in zip(cached[0], snapshot))


class _UpstreamInplace(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.head = nn.Linear(6, 6), nn.Linear(6, 6), nn.Linear(6, 3)

    def forward(self, x):
        h = self.a(x)
        y = self.b(h)
        h.relu_()  # upstream of nothing faulted, but it rewrites h after b read it
        return self.head(y + h)


def test_prefix_cache_declines_when_an_upstream_op_rewrites_a_cached_value():
    split = PrefixSplit.trace(_UpstreamInplace())
    assert split.suffix(["b"]) is None and split.suffix(["head"]) is not None


class _Untraceable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x):
        h = self.a(x)
        if h.sum() > 0:  # data-dependent control flow: torch.fx cannot trace this
            h = h * 2
        return self.b(h)


@pytest.mark.slow
def test_campaigns_are_identical_with_and_without_prefix_cache_and_fall_back_when_untraceable(
        mobile, tmp_path, monkeypatch):
    from faultlab.campaign.prefix import Suffix

    net, x, y = mobile
    assert PrefixSplit.trace(_Untraceable()) is None
    calls = []
    run_suffix = Suffix.__call__
    monkeypatch.setattr(Suffix, "__call__", lambda self, *a: calls.append(1) or run_suffix(self, *a))
    frames, suffix_calls = [], []
    for cache in (True, False):
        spec = CampaignSpec("drop(p={rate})", [0.1, 0.4], trials=2, per_layer=True, prefix_cache=cache)
        with ResultsStore(tmp_path / f"{cache}.sqlite") as store:
            calls.clear()
            run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
            suffix_calls.append(len(calls))
            rows = list(store.trials(with_correct=True))
            frames.append([(r["layer"], r["rate"], r["trial"], r["accuracy"], r["loss"], r["correct"].tobytes())
                           for r in rows])
    n_trials = len(LayerSelector().select(net)) * 2 * 2
    assert frames[0] == frames[1] and len(frames[0]) == n_trials
    assert suffix_calls == [n_trials, 0]  # one suffix pass per trial (one test batch) with the cache, none without
    caches = []
    build_cache = Suffix.cache
    monkeypatch.setattr(Suffix, "cache", lambda self, *a: caches.append(1) or build_cache(self, *a))
    with ResultsStore(tmp_path / "True.sqlite") as store:  # everything stored: the re-run builds no cache
        run_campaign(net, x, y, CampaignSpec("drop(p={rate})", [0.1, 0.4], trials=2, per_layer=True), store,
                     RunInfo("r"), progress="off")
        assert store.count_trials() == n_trials
    assert caches == [] and len(calls) == 0
    torch.manual_seed(0)
    odd = _Untraceable().eval()
    xs, ys = torch.randn(20, 4), torch.randint(0, 2, (20,))
    with ResultsStore(tmp_path / "odd.sqlite") as store:
        run_campaign(odd, xs, ys, CampaignSpec("drop(p={rate})", [0.5], trials=2, per_layer=True), store,
                     RunInfo("o"), progress="off")  # also not vmap-able: auto trials per pass falls back to 1
        assert store.count_trials() == 4


def test_store_migration_keeps_rows_of_the_first_schema(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for stmt in split_statements(MIGRATIONS[0][1]):
        conn.execute(stmt)
    conn.execute("INSERT INTO schema_migrations VALUES ('0001_initial', 'then')")
    conn.execute("INSERT INTO trials (campaign_id, run_id, fault, rate, trial, layer, accuracy) "
                 "VALUES ('c', 'r', 'drop(p={rate})', 0.1, 0, '*', 0.5), "
                 "('c', 'r', 'drop(p={rate})', 0.1, 0, 'fc', 0.4)")
    conn.commit()
    conn.close()
    with ResultsStore(path) as store:
        rows = sorted(store.trials(), key=lambda r: r["layer"])
        assert [(r["layer"], r["layer_group"], r["equal_count"], r["accuracy"]) for r in rows] == [
            ("*", "*", 0, 0.5), ("fc", None, 0, 0.4)]
        added = store.add_trials([{"campaign_id": "c", "run_id": "r", "fault": "drop(p={rate})", "rate": 0.1,
                                   "trial": 0, "layer": "fc", "equal_count": 3, "accuracy": 0.3}])
        assert added == 1 and [r["trial"] for r in store.trials("layer = ? AND equal_count = ?", ("fc", 3))] == [0]


def test_equal_count_over_a_group_spreads_exactly_k_faults_over_its_layers(mobile, tmp_path):
    from faultlab.injection import draw_maps

    net, x, y = mobile
    spec = CampaignSpec("drop(p={rate})", [], trials=2, per_layer="group", equal_count=[40])
    with ResultsStore(tmp_path / "gc.sqlite") as store:
        run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
        df = store.to_frame()
    scopes = campaign_scopes(net, LayerSelector().select(net), "group")
    assert sorted(set(df.layer)) == sorted(s.label for s in scopes) and (df.equal_count == 40).all()
    pointwise = next(s for s in scopes if s.group == "pointwise")
    assert len(pointwise.layers) > 1
    seeds, exact = trial_keys(spec, pointwise, 0.0, 40, 1)
    draws, _ = draw_maps(net, full_rate_fault(spec.fault), pointwise.layers, seeds, exact)
    per_layer = [int(d.faulty.sum()) for d in draws.values()]
    assert sum(per_layer) == 40 and sum(k > 0 for k in per_layer) > 1


@pytest.mark.slow
def test_prefix_cache_building_is_not_charged_to_a_trial(mobile, tmp_path, monkeypatch):
    from faultlab.campaign.prefix import Suffix

    slow = 0.5  # seconds added to every cache building; a trial of this tiny net takes milliseconds
    build_cache = Suffix.cache
    monkeypatch.setattr(Suffix, "cache", lambda self, *a: time.sleep(slow) or build_cache(self, *a))
    net, x, y = mobile
    spec = CampaignSpec("drop(p={rate})", [0.2], trials=2, per_layer=True, layers=LayerSelector(first=False))
    with ResultsStore(tmp_path / "t.sqlite") as store:
        run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
        seconds = store.to_frame()["seconds"]
    assert len(seconds) == 2 * len(LayerSelector(first=False).select(net)) and seconds.max() < slow
