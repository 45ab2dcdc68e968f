"""The grid view on the server: a grid of variants trains in the session's slices, its frames
carry one map and one loss per tile, a picked tile becomes the session's model with its very
weights, and grids beyond the engine or the caps are refused in the user's language."""

from __future__ import annotations

import asyncio
import base64
import shutil
import json
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from torchground.engine.stacked import StackedGroup
from torchground.errors import TorchgroundError
from torchground.i18n import t
from torchground.server import create_app
from torchground.server.grid import GRID_FUSED_SHAPES, GridRun
from torchground.server.grid_axes import (
    GRID_FIELDS,
    GRID_MAP_SIZE,
    GRID_MAX_MODELS,
    GRID_MAX_STEPS,
)
from torchground.server.security import COOKIE_NAME
from torchground.server.session import Session
from torchground.server.slices import EpochSlicer
from torchground.server.urlstate import DEFAULT_SPEC

AXES_2x2 = [{"field": "lr", "values": "0.03, 0.3"}, {"field": "init_seed", "values": "0..1"}]


class Client:
    """A session driven directly, its answers collected as dicts."""

    def __init__(self, lang: str = "en") -> None:
        self.out: list[dict[str, Any]] = []

        async def send(text: str) -> None:
            self.out.append(json.loads(text))

        self.session = Session(send, lang)

    async def ask(self, **msg: Any) -> list[dict[str, Any]]:
        self.out.clear()
        await self.session.receive(json.dumps(msg))
        return list(self.out)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_2x2_grid_trains_and_its_frames_carry_four_maps_whose_losses_fall() -> None:
    async def main() -> None:
        c = Client()
        await c.ask(type="init", query="")
        answers = await c.ask(type="grid", axes=AXES_2x2)
        assert [m["type"] for m in answers] == ["grid_state", "grid_frame"]
        state, first = answers
        assert [tile["setting"] for tile in state["tiles"]] == [
            {"lr": "0.03", "init_seed": "0"}, {"lr": "0.03", "init_seed": "1"},
            {"lr": "0.3", "init_seed": "0"}, {"lr": "0.3", "init_seed": "1"},
        ]
        assert state["axes"] == [{"field": "lr", "values": ["0.03", "0.3"]}, {"field": "init_seed", "values": ["0", "1"]}]
        assert state["loss_set"] == "test" and len(state["points"]) == 1 and state["size"] == GRID_MAP_SIZE
        assert first["epoch"] == 0 and first["losses"] == [None] * 4
        frames = []
        for _ in range(20):
            frames += [m for m in await c.ask(type="step") if m["type"] == "grid_frame"]
        assert [f["epoch"] for f in frames] == list(range(1, 21))
        maps = [np.frombuffer(base64.b64decode(f["maps"]), dtype=np.uint8) for f in frames]
        assert all(len(m) == 4 * GRID_MAP_SIZE**2 for m in maps)
        assert not np.array_equal(maps[0], maps[-1])  # the tiles changed
        assert all(last < one for one, last in zip(frames[0]["losses"], frames[-1]["losses"])), (frames[0]["losses"], frames[-1]["losses"])
        assert frames[-1]["diverged"] == [] and not frames[-1]["running"]
        await c.session.close()

    _run(main())


def test_a_grid_tile_is_trained_as_the_engine_trains_that_spec_alone() -> None:
    run = GridRun(DEFAULT_SPEC, [("lr", "0.03, 0.3"), ("init_seed", "0..1")])
    for _ in range(3):
        run.train_epoch(lambda: None)
    spec, params = run.pick(2)
    alone = StackedGroup([spec.replace(epochs=3)]).run()[0]
    assert spec.lr == 0.3 and spec.init_seed == 0
    torch.testing.assert_close(params, alone.params, rtol=1e-5, atol=1e-6)
    assert run.losses[2] == pytest.approx(alone.last["test_loss"], rel=1e-5)


def test_picking_a_tile_sets_the_session_spec_and_that_models_weights() -> None:
    async def main() -> None:
        c = Client()
        await c.ask(type="init", query="")
        await c.ask(type="grid", axes=AXES_2x2)
        for _ in range(3):
            await c.ask(type="step")
        grid = c.session.grid
        assert grid is not None
        spec, params = grid.run.pick(3)
        answers = await c.ask(type="grid_pick", index=3)
        assert [m["type"] for m in answers] == ["state", "frame"]
        assert c.session.grid is None and c.session.spec == spec
        assert (spec.lr, spec.init_seed) == (0.3, 1) and answers[0]["spec"]["lr"] == 0.3
        weights = torch.nn.utils.parameters_to_vector(c.session.trainer.model.parameters())
        assert torch.equal(weights, params)
        # the normal view goes on from those weights
        answers = await c.ask(type="step")
        assert answers[-1]["type"] == "frame" and answers[-1]["epoch"] == 1
        await c.session.close()

    _run(main())


def test_play_pause_reset_and_close_act_on_the_grid() -> None:
    async def main() -> None:
        c = Client()
        await c.ask(type="init", query="")
        await c.ask(type="grid", axes=[{"field": "activation", "values": "tanh, relu"}])
        c.out.clear()
        await c.session.submit(json.dumps({"type": "play"}))
        while not [m for m in c.out if m["type"] == "grid_frame" and m["epoch"] >= 2]:
            await asyncio.sleep(0.01)
        await c.session.submit(json.dumps({"type": "pause"}))
        while not c.out or c.out[-1].get("running", True):
            await asyncio.sleep(0.01)
        grid_frames = [m for m in c.out if m["type"] == "grid_frame"]
        assert grid_frames and {m["type"] for m in c.out} <= {"grid_frame"}
        assert grid_frames[-1]["running"] is False and grid_frames[-1]["epoch"] >= 2
        answers = await c.ask(type="reset")
        assert [(m["type"], m["epoch"]) for m in answers] == [("grid_frame", 0)]
        answers = await c.ask(type="grid_close")
        assert [m["type"] for m in answers] == ["state", "frame"] and answers[1]["epoch"] == 0
        assert c.session.grid is None
        await c.session.close()

    _run(main())


def test_the_grid_trains_in_the_sessions_time_slices() -> None:
    async def main() -> None:
        c = Client()
        await c.ask(type="init", query="")
        # activations outside the fused kernel's scope: the eager steps, a pause after each
        await c.ask(type="grid", axes=[{"field": "activation", "values": "elu, softplus"}])
        grid = c.session.grid
        grid.slicer = EpochSlicer(budget=0.0)  # every step ends its slice
        async with c.session._work:
            parked = [await grid.advance() for _ in range(3)]
        assert parked == [False, False, False] and grid.run.epoch == 0
        steps = -(-DEFAULT_SPEC.n_train // DEFAULT_SPEC.batch_size)
        async with c.session._work:
            while not await grid.advance():
                pass
        assert grid.run.epoch == 1 and steps > 3
        # a pause mid-epoch finishes the epoch: the paused grid shows whole epochs
        async with c.session._work:
            assert not await grid.advance()
        answers = await c.ask(type="pause")
        assert [(m["type"], m["epoch"], m["running"]) for m in answers] == [("grid_frame", 2, False)]
        assert not grid.slicer.in_progress
        await c.session.close()

    _run(main())


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_refusals_say_why_in_the_users_language(lang: str) -> None:
    async def main() -> None:
        c = Client(lang)
        await c.ask(type="init", query="", lang=lang)
        cases = [
            ([{"field": "epochs", "values": "1, 2"}], t("grid.unknown_field", lang, field="epochs", allowed=", ".join(GRID_FIELDS))),
            ([{"field": "lr", "values": "0.1"}, {"field": "lr", "values": "1"}], t("grid.same_field", lang, field="lr")),
            ([{"field": "lr", "values": "0.1, 0.1"}], t("grid.repeated_value", lang, field="lr")),
            ([{"field": "lr", "values": "0.1"}, {"field": "seed", "values": "0..64"}], t("grid.too_many", lang, count=65, max=GRID_MAX_MODELS)),
            ([{"field": "optimizer", "values": "sgd, lbfgs"}],
             t("grid.unsupported", lang, field="optimizer", value="lbfgs", allowed="sgd, adam, adamw, rmsprop, adagrad")),
            ([{"field": "hidden", "values": "4 | 9"}], None),  # beyond the server's neurons cap
            ([{"field": "batch_size", "values": "1..8"}, {"field": "activation", "values": "tanh, relu, sigmoid, identity"}], None),
        ]
        for axes, expected in cases:
            answers = await c.ask(type="grid", axes=axes)
            assert [m["type"] for m in answers] == ["error"], (axes, answers)
            if expected is not None:
                assert answers[0]["message"] == expected
            assert c.session.grid is None
        answers = await c.ask(type="grid_pick", index=0)
        assert answers == [{"type": "error", "message": t("grid.not_open", lang)}]
        # TensorFlow Playground's training loop is the eager trainer's alone
        await c.ask(type="set", changes={"training_loop": "tf-playground"})
        answers = await c.ask(type="grid", axes=[{"field": "lr", "values": "0.1, 1"}])
        assert answers == [{"type": "error", "message": t("grid.unsupported", lang, field="training_loop", value="tf-playground", allowed="pytorch")}]
        await c.session.close()

    _run(main())


def test_work_and_class_refusals_name_the_numbers() -> None:
    with pytest.raises(TorchgroundError) as info:
        GridRun(DEFAULT_SPEC, [("batch_size", "1..8"), ("activation", "tanh, relu, sigmoid, identity")])
    assert info.value.key == "grid.too_much_work" and info.value.params["steps"] > GRID_MAX_STEPS
    with pytest.raises(TorchgroundError) as info:
        GridRun(DEFAULT_SPEC.replace(dataset="spiral-k"), [("lr", "0.1, 1")])
    assert info.value.key == "classes.two_only" and info.value.params["classes"] == 3
    with pytest.raises(TorchgroundError) as info:
        GridRun(DEFAULT_SPEC, [("lr", "0.1, 1")]).pick(2)
    assert info.value.key == "grid.no_tile"


def test_a_grid_at_the_cap_is_built_and_the_caps_are_published() -> None:
    run = GridRun(DEFAULT_SPEC, [("lr", GRID_FIELDS["lr"]), ("init_seed", GRID_FIELDS["init_seed"])])
    assert len(run.specs) == GRID_MAX_MODELS == 64 and len(run.groups) == 1
    client = TestClient(create_app("tok", lang="en"), cookies={COOKIE_NAME: "tok"})
    grid = client.get("/api/meta").json()["grid"]
    assert grid["caps"] == {"models": GRID_MAX_MODELS, "axes": 2, "steps": GRID_MAX_STEPS, "map_size": GRID_MAP_SIZE}
    assert grid["fields"] == GRID_FIELDS
    labels = client.get("/api/i18n/ja").json()
    assert all(f"web.grid_field_{name}" in labels for name in GRID_FIELDS)


def test_a_network_that_diverges_keeps_its_weights_from_before_that_epoch_and_says_so() -> None:
    run = GridRun(DEFAULT_SPEC.replace(activation="relu", output_activation="identity"), [("lr", "0.03, 10")])
    start = run.pick(1)[1]
    frames = []
    for _ in range(3):
        run.train_epoch(lambda: None)
        frames.append(run.frame(False))
    assert [f["diverged"] for f in frames] == [[1], [1], [1]]
    assert frames[-1]["losses"][1] is None  # never a finite loss: none is shown
    assert frames[-1]["losses"][0] < frames[0]["losses"][0]  # the other network trains on
    spec, params = run.pick(1)
    assert spec.lr == 10 and torch.equal(params, start)  # it diverged in its first epoch


def test_a_grid_over_a_data_file_draws_over_the_files_own_extent() -> None:
    two = "x1,x2,label\n" + "".join(f"{100 + (i % 7)},{20 + 3 * (i % 5)},{'ab'[i % 2]}\n" for i in range(60))
    client = TestClient(create_app("tok", lang="en"))
    changes = client.post("/api/data?token=tok", content=two.encode()).json()["changes"]
    with client.websocket_connect("/ws?token=tok", headers={"origin": "http://testserver"}) as ws:
        ws.send_text(json.dumps({"type": "init", "query": "", "lang": "en"}))
        ws.receive_json(), ws.receive_json()
        ws.send_text(json.dumps({"type": "set", "changes": changes}))
        state = ws.receive_json()
        assert state["type"] == "state" and ws.receive_json()["type"] == "frame"
        ws.send_text(json.dumps({"type": "grid", "axes": [{"field": "lr", "values": "0.03, 0.3"}]}))
        grid_state, frame = ws.receive_json(), ws.receive_json()
        assert grid_state["type"] == "grid_state", grid_state
        assert grid_state["box"] == state["view"]["box"] and len(grid_state["points"]) == 1
        ws.send_text(json.dumps({"type": "step"}))
        frame = ws.receive_json()
        assert frame["type"] == "grid_frame" and frame["epoch"] == 1 and all(isinstance(v, float) for v in frame["losses"])


def test_a_one_shape_grid_trains_in_the_fused_kernel_and_a_grid_of_many_shapes_eagerly() -> None:
    run = GridRun(DEFAULT_SPEC, [("lr", "0.03, 0.3"), ("init_seed", "0..1")])
    g = run.groups[0]
    assert g.fused and g.group._prebuild is not None or shutil.which("cc") is None
    if g.group._prebuild is not None:
        g.group._prebuild.wait()  # an epoch does not wait for the compiler: here the test does
    for _ in range(2):
        run.train_epoch(lambda: None)
    if shutil.which("cc") is not None:
        assert g.compiled.path.value == "fused" and g.compiled.fused_epochs == 2
    many = GridRun(DEFAULT_SPEC, [("hidden", "2 | 3 | 4 | 5 | 6")])
    assert len(many.groups) == 5 > GRID_FUSED_SHAPES
    assert not any(g.fused or g.group._prebuild for g in many.groups)
