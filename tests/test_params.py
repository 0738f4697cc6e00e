"""Parameter files: TOML and JSON into SolverParams, round trips, and errors that name the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatcher.errors import InputError
from dispatcher.model import SolverParams
from dispatcher.params import dumps_params, load_params, params_from_mapping, save_params
from dispatcher.solver.ortools_names import FIRST_SOLUTION_STRATEGIES, METAHEURISTICS


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_toml_params_table_with_tune_metadata(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "p.toml",
        '# comment\n[params]\nfirst_solution = "local_cheapest_insertion"\n'
        'metaheuristic = "TABU_SEARCH"\n'
        'time_limit_s = 3\n\n[tune]\nbest_gap_pct = 1.5\ninstances = ["a2-16"]\n',
    )
    params = load_params(p)
    assert params.first_solution == "LOCAL_CHEAPEST_INSERTION"
    assert params.metaheuristic == "TABU_SEARCH"
    assert params.time_limit_s == 3
    assert params.seed == SolverParams().seed  # untouched keys keep the defaults


def test_top_level_keys_and_base(tmp_path: Path) -> None:
    p = write(tmp_path, "p.toml", 'metaheuristic = "SIMULATED_ANNEALING"\n')
    base = SolverParams(time_limit_s=42.0, seed=7)
    params = load_params(p, base=base)
    assert (params.metaheuristic, params.time_limit_s, params.seed) == (
        "SIMULATED_ANNEALING",
        42.0,
        7,
    )


def test_effort_without_time_limit_lets_effort_decide(tmp_path: Path) -> None:
    params = load_params(write(tmp_path, "p.toml", "effort = 4\n"))
    assert params.time_limit_s is None
    assert params.effective_time_limit_s == SolverParams.EFFORT_TIME_S[4]


def test_json_with_nulls(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "p.json",
        json.dumps({"params": {"time_limit_s": None, "effort": 1, "solution_limit": 5}}),
    )
    params = load_params(p)
    assert params.time_limit_s is None and params.effort == 1 and params.solution_limit == 5


@pytest.mark.parametrize("suffix", [".toml", ".json"])
@pytest.mark.parametrize("fs", FIRST_SOLUTION_STRATEGIES[:3])
@pytest.mark.parametrize("mh", METAHEURISTICS[1:3])
def test_round_trip(tmp_path: Path, suffix: str, fs: str, mh: str) -> None:
    params = SolverParams(
        time_limit_s=2.5,
        first_solution=fs,
        metaheuristic=mh,
        effort=3,
        seed=4,
        solution_limit=9,
        log_search=True,
    )
    path = save_params(
        params,
        tmp_path / f"p{suffix}",
        meta={"best_gap_pct": 0.25, "note": 'quote " and é'},
        comment="a\nb",
    )
    assert load_params(path) == params


def test_round_trip_with_nones(tmp_path: Path) -> None:
    params = SolverParams(time_limit_s=None, effort=5)
    back = load_params(save_params(params, tmp_path / "p.toml"))
    assert back.time_limit_s is None and back.effort == 5 and back.solution_limit is None


def test_selected_keys_only(tmp_path: Path) -> None:
    text = dumps_params(SolverParams(metaheuristic="TABU_SEARCH"), keys=["metaheuristic"])
    assert "metaheuristic" in text and "time_limit_s" not in text


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ('[params]\nmetaheuristic = "FAST"\n', "params.metaheuristic", "must be one of"),
        ("[params]\nfirst_solution = 3\n", "params.first_solution", "must be a string"),
        ("[params]\ntime_limit_s = -1\n", "params.time_limit_s", "non-negative"),
        ('[params]\ntime_limit_s = "10"\n', "params.time_limit_s", "number of seconds"),
        ("[params]\ntime_limit_s = inf\n", "params.time_limit_s", "finite"),
        ("[params]\neffort = 9\n", "params.effort", "0 to 5"),
        ("[params]\nseed = 1.5\n", "params.seed", "integer"),
        ("[params]\nsolution_limit = 0\n", "params.solution_limit", ">= 1"),
        ('[params]\nlog_search = "yes"\n', "params.log_search", "true or false"),
        ('[params]\nrefinement = "lns"\n', "params.refinement", "must be one of"),
        ("[params]\nalns_share = 1.0\n", "params.alns_share", "below 1"),
        ('[params]\nalns_share = "half"\n', "params.alns_share", "a number"),
        ("[params]\nlambda = 0.1\n", "params.lambda", "unknown key"),
        ("lambda = 0.1\n", "params.lambda", "unknown key"),
        ("[params]\nseed = 1\n[other]\nx = 1\n", "other", "unknown key beside [params]"),
        ("params = 3\n", "params", "table"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, where: str, words: str) -> None:
    p = write(tmp_path, "bad.toml", text)
    with pytest.raises(InputError) as ei:
        load_params(p)
    assert ei.value.where == f"{p}: {where}"
    assert words in ei.value.message


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("p.toml", "[params\n", "not valid TOML"),
        ("p.json", "{", "not valid JSON"),
        ("p.yaml", "a: 1", ".toml or .json"),
        ("p.json", "[1, 2]", "table of parameters"),
    ],
)
def test_file_errors(tmp_path: Path, name: str, text: str, words: str) -> None:
    p = write(tmp_path, name, text)
    with pytest.raises(InputError) as ei:
        load_params(p)
    assert ei.value.where == str(p) and words in ei.value.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such parameter file"):
        load_params(tmp_path / "nope.toml")


def test_the_time_split_round_trips(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    save_params(SolverParams(refinement="none", alns_share=0.5), p)
    got = load_params(p)
    assert (got.refinement, got.alns_share) == ("none", 0.5)


def test_mapping_where_prefix() -> None:
    with pytest.raises(InputError) as ei:
        params_from_mapping({"metaheuristic": "X"}, where="trial")
    assert ei.value.where == "trial.metaheuristic"
