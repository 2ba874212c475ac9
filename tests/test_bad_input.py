"""Table-driven: every malformed input gets a clear short error, no traceback, and nothing stored.

Files (CSV and Parquet) go through ``data show --data``, ``backtest --data`` and ``risk
--data``; then bad arguments and bad configuration, all through the CLI's ``main(argv)``
in-process (a handful also as real subprocesses). The Backtest page's upload, the
Settings form and the manual ticket get the same inputs through AppTest. For each input:
a non-zero exit (or an error element on the page), at most ``MAX_LINES`` lines, no
"Traceback", and every table of the store holds the same rows as before. The tally is
written to ``test-artifacts/bad_input_counts_cli.json`` by group (files, arguments, configuration).
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from bad_inputs import (
    ARG_CASES,
    CONFIG_CASES,
    CSV_ONLY,
    DB_PASSWORD,
    FRAME_DEFECTS,
    PARQUET_ONLY,
    SECRET_TOKEN,
    WEBHOOK_PATH,
    good_frame,
    parquet_bytes,
    write,
)

from core.cli import main
from core.services import Context, set_context

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 3
TALLY: Counter[str] = Counter()
GROUPS: dict[str, Counter[str]] = {g: Counter() for g in ("files", "arguments", "configuration")}
LONG_NAME = "x" * 5000 + ".csv"  # longer than any file system allows
COMMANDS = {"data": ["data", "show", "--data"], "backtest": ["backtest", "--data"], "risk": ["risk", "--data"]}


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write the good frame and every defect once, as CSV and as Parquet."""
    d = tmp_path_factory.mktemp("bad_files")
    base = good_frame()
    for fmt in ("csv", "parquet"):
        write(base, d / f"good.{fmt}")
        for name, (mutate, _) in FRAME_DEFECTS.items():
            write(mutate(base), d / f"{name}.{fmt}")
    for name, content in CSV_ONLY.items():
        (d / f"{name}.csv").write_bytes(content)
    for name, mutate in PARQUET_ONLY.items():
        (d / f"{name}.parquet").write_bytes(parquet_bytes(mutate(base)))
    (d / "corrupt.parquet").write_bytes((d / "good.parquet").read_bytes()[:300])
    (d / "notes.xlsx").write_bytes(b"PK\x03\x04 not really a spreadsheet")
    (d / "a_directory.csv").mkdir()
    (d / "bars.json").write_text(base.to_json())
    (d / "no_extension").write_bytes((d / "good.csv").read_bytes())
    (d / "csv_text.parquet").write_bytes((d / "good.csv").read_bytes())
    (d / "not_gzip.csv.gz").write_bytes((d / "good.csv").read_bytes())
    return d


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad_store")


@pytest.fixture
def cli_ctx(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    """A context on one temporary SQLite store shared by the module; the environment points there too."""
    url = f"sqlite:///{store_dir / 'bad.db'}"
    monkeypatch.setenv("APP__STORE__DATABASE_URL", url)
    monkeypatch.setenv("APP__LOG__DIR", str(store_dir / "logs"))
    monkeypatch.setenv("APP__SCHEDULER__EMBEDDED", "false")
    from core.config import load_settings

    ctx = Context.create(load_settings(config_file=None, env_file=str(store_dir / "none.env")))
    set_context(ctx)
    yield ctx
    set_context(None)


def snapshot(ctx: Context) -> dict[str, int]:
    """Return the row count of every table of the store."""
    with ctx.store.engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return {n: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one() for n in names}


def run_cli(argv: list[str]) -> tuple[int, str]:
    """Run ``python -m core argv`` in-process; return the exit code and stdout+stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue() + out.getvalue()


def assert_clear_error(code: int, text: str, *, must: str = "", secret: str = "", group: str = "") -> None:
    """Tally and assert: non-zero exit, one ``error:`` line (a ``note:`` may come with it), no traceback, no secret."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    bug = "Traceback" in text or "(a bug: please report it" in text
    outcome = "tracebacks" if bug else "silent_accepts" if code == 0 else "clear_errors"
    TALLY[outcome] += 1
    if group:
        GROUPS[group]["inputs"] += 1
        GROUPS[group][outcome] += 1
    assert not bug, text
    assert code != 0, f"silently accepted:\n{text[:500]}"
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and len(lines) <= MAX_LINES and all(ln.startswith(("error:", "note:")) for ln in lines), text
    assert must.lower() in text.lower(), f"expected {must!r} in: {text}"
    if secret:
        assert secret not in text


# -- files ---------------------------------------------------------------------------------------
FILE_CASES = [(name, fmt, cmd) for name, (_, everywhere) in FRAME_DEFECTS.items() for fmt in ("csv", "parquet") for cmd in COMMANDS
              if everywhere or cmd != "data"]
FILE_CASES += [(name, "csv", cmd) for name in CSV_ONLY for cmd in COMMANDS]
FILE_CASES += [(name, "parquet", cmd) for name in PARQUET_ONLY for cmd in COMMANDS]
FILE_CASES += [(name, ext, cmd) for name, ext in (("corrupt", "parquet"), ("notes", "xlsx"), ("a_directory", "csv"), ("missing", "csv"),
                                                  ("bars", "json"), ("no_extension", ""), ("csv_text", "parquet"), ("not_gzip", "csv.gz"),
                                                  ("long_name", "csv")) for cmd in COMMANDS]


def _file(files: Path, name: str, fmt: str) -> str:
    if name == "long_name":
        return str(files / LONG_NAME)
    return str(files / (f"{name}.{fmt}" if fmt else name))


@pytest.mark.parametrize(("name", "fmt", "cmd"), FILE_CASES, ids=[f"{c}-{n}.{f}"[:80] for n, f, c in FILE_CASES])
def test_malformed_file_is_one_clear_error(files: Path, cli_ctx: Context, name: str, fmt: str, cmd: str) -> None:
    before = snapshot(cli_ctx)
    code, text = run_cli([*COMMANDS[cmd], _file(files, name, fmt)])
    TALLY["inputs"] += 1
    assert_clear_error(code, text, group="files")
    assert snapshot(cli_ctx) == before


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_good_frame_passes_every_command(files: Path, cli_ctx: Context, fmt: str) -> None:
    """The control: without the defect each command succeeds, so each error above is the defect's."""
    for cmd in COMMANDS:
        code, text = run_cli([*COMMANDS[cmd], str(files / f"good.{fmt}"), "--json"])
        assert code == 0, text
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["data", "show", "--data", str(files / f"good.{fmt}"), "--json"]) == 0
    assert len(json.loads(out.getvalue())) == 120


def test_repair_drops_and_reports_a_bad_tick(files: Path, cli_ctx: Context) -> None:
    path = files / "bad_tick_up_1000x.csv"
    err = io.StringIO()
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["data", "show", "--data", str(path), "--repair", "--json"])
    assert code == 0
    rows = json.loads(out.getvalue())
    assert len(rows) == 119 and "2000-05-25" not in {r["ts"][:10] for r in rows}  # row 60 of the frame
    assert "repaired: dropped 1 likely bad tick" in err.getvalue()
    code, text = run_cli(["backtest", "--data", str(path), "--repair"])
    assert code == 0 and "warning: repaired: dropped 1 likely bad tick" in text


def test_mixed_offsets_name_the_first_offending_row(files: Path, cli_ctx: Context) -> None:
    code, text = run_cli(["data", "show", "--data", str(files / "time_mixed_zoned_unzoned.csv")])
    assert code == 2 and "row 40" in text and "offset" in text


def test_row_counter_time_is_refused_with_the_reason(files: Path, cli_ctx: Context) -> None:
    code, text = run_cli(["backtest", "--data", str(files / "time_row_counter.parquet")])
    assert code == 2 and "0 .. 119" in text and "1970" in text


def test_too_little_data_says_so_instead_of_zero_trades(files: Path, cli_ctx: Context) -> None:
    code, text = run_cli(["backtest", "--data", str(files / "fifteen_rows.csv")])
    assert code == 2 and "15 bars" in text and "needs at least 22" in text
    code, text = run_cli(["backtest", "--data", str(files / "good.csv"), "--param", "slow=150"])
    assert code == 2 and "120 bars" in text and "needs at least 152" in text


# -- arguments ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "must"), ARG_CASES, ids=[" ".join(a) for a, _ in ARG_CASES])
def test_bad_argument_is_one_clear_error(cli_ctx: Context, argv: list[str], must: str) -> None:
    before = snapshot(cli_ctx)
    code, text = run_cli(argv)
    TALLY["inputs"] += 1
    assert_clear_error(code, text, must=must, group="arguments")
    assert snapshot(cli_ctx) == before


# -- configuration --------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "text", "must"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_file_is_one_clear_error(tmp_path: Path, cli_ctx: Context, monkeypatch: pytest.MonkeyPatch, name: str, text: str, must: str) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text)
    if "store:" in text:  # the environment would win over the file
        monkeypatch.delenv("APP__STORE__DATABASE_URL")
    before = snapshot(cli_ctx)
    code, out = run_cli(["--config", str(cfg), "data", "list"])
    TALLY["inputs"] += 1
    assert_clear_error(code, out, must=must, secret=SECRET_TOKEN, group="configuration")
    assert WEBHOOK_PATH not in out and DB_PASSWORD not in out
    assert snapshot(cli_ctx) == before


def _env_cases(tmp: Path) -> list[tuple[str, dict[str, str | None], list[str], str]]:
    hook = f"https://discord.com{WEBHOOK_PATH}"
    return [
        ("database_garbage", {"APP__STORE__DATABASE_URL": None, "DATABASE_URL": "garbage://x"}, ["data", "list"], "unsupported database"),
        ("database_no_scheme", {"APP__STORE__DATABASE_URL": None, "DATABASE_URL": "app.db"}, ["data", "list"], "not a database URL"),
        ("database_unknown_driver", {"APP__STORE__DATABASE_URL": f"postgresql+nodriver://u:{DB_PASSWORD}@127.0.0.1/x"}, ["data", "list"],
         "cannot use database"),
        ("sqlite_missing_dir", {"APP__STORE__DATABASE_URL": None, "DATABASE_URL": f"sqlite:///{tmp}/no/such/dir/x.db"}, ["data", "list"],
         f"{tmp}/no/such/dir/x.db"),
        ("sqlite_is_directory", {"APP__STORE__DATABASE_URL": f"sqlite:///{tmp}"}, ["data", "list"], "cannot open database"),
        ("misspelt_secret_env", {"APP__NOTIFY__DISCORD_WEBHOOK": hook}, ["data", "list"], "did you mean 'notify.discord_webhook_url'"),
        ("unknown_env_key", {"APP__RISK__MAX_POSITON_PCT": "0.1"}, ["data", "list"], "risk.max_position_pct"),
        ("bad_env_value", {"APP__RISK__MAX_POSITION_PCT": "abc"}, ["data", "list"], "APP__RISK__MAX_POSITION_PCT"),
        ("secret_wrong_type_env", {"APP__NOTIFY__SMTP_PORT": "smtp"}, ["data", "list"], "notify.smtp_port"),
        ("config_missing_file", {}, ["--config", str(tmp / "nope.yaml"), "data", "list"], "does not exist"),
        ("config_is_directory", {}, ["--config", str(tmp), "data", "list"], "config file"),
        ("config_binary", {}, ["--config", str(tmp / "bin.yaml"), "data", "list"], "UTF-8"),
        # added by a later audit
        ("database_not_a_database", {"APP__STORE__DATABASE_URL": f"sqlite:///{tmp}/not_a_db.sqlite"}, ["data", "list"], "not a database"),
        ("database_postgres_no_driver", {"APP__STORE__DATABASE_URL": f"postgresql://bot:{DB_PASSWORD}@127.0.0.1:1/x"}, ["data", "list"],
         "psycopg2"),
        ("symbols_not_json", {"APP__TRADING__SYMBOLS": "AAPL,MSFT"}, ["data", "list"], "APP__TRADING__SYMBOLS must be JSON"),
        ("symbols_empty", {"APP__TRADING__SYMBOLS": "[]"}, ["data", "list"], "trading.symbols"),
        ("section_not_json", {"APP__RISK__STOP": "abc"}, ["data", "list"], "APP__RISK__STOP must be JSON"),
        ("timeframe_env", {"APP__TRADING__TIMEFRAME": "7m"}, ["data", "list"], "trading.timeframe"),
        ("cash_env_huge", {"APP__TRADING__CASH": "1e308"}, ["data", "list"], "trading.cash"),
        ("cash_env_nan", {"APP__TRADING__CASH": "nan"}, ["data", "list"], "finite"),
        ("position_env_empty", {"APP__RISK__MAX_POSITION_PCT": ""}, ["data", "list"], "risk.max_position_pct"),
        ("position_env_inf", {"APP__RISK__MAX_POSITION_PCT": "inf"}, ["data", "list"], "finite"),
        ("tick_seconds_negative", {"APP__SCHEDULER__TICK_SECONDS": "-1"}, ["data", "list"], "scheduler.tick_seconds"),
        ("mode_live_unconfirmed_env", {"APP__MODE": "LIVE"}, ["data", "list"], "live_confirmed"),
        ("log_level_env", {"APP__LOG__LEVEL": "loud"}, ["data", "list"], "log.level"),
        ("broker_unknown", {"APP__BROKERS__DEFAULT": "robinhood"}, ["data", "list"], "brokers.default"),
        ("provider_unknown", {"APP__DATA__PROVIDER": "nope"}, ["data", "list"], "data.provider"),
        ("misspelt_token_env", {"APP__NOTIFY__TELEGRAM_TOKN": SECRET_TOKEN}, ["data", "list"], "notify.telegram"),
    ]


ENV_IDS = [c[0] for c in _env_cases(Path("/tmp"))]


@pytest.mark.parametrize("case", range(len(ENV_IDS)), ids=ENV_IDS)
def test_bad_environment_is_one_clear_error(tmp_path: Path, cli_ctx: Context, monkeypatch: pytest.MonkeyPatch, case: int) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00risk:\x81\n")
    (tmp_path / "not_a_db.sqlite").write_text("just text\n")
    _, env, argv, must = _env_cases(tmp_path)[case]
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    before = snapshot(cli_ctx)
    set_context(None)  # the CLI builds its context from this environment
    try:
        code, out = run_cli(argv)
    finally:
        set_context(cli_ctx)
    TALLY["inputs"] += 1
    assert_clear_error(code, out, must=must, secret=SECRET_TOKEN, group="configuration")
    assert WEBHOOK_PATH not in out and DB_PASSWORD not in out
    assert not (tmp_path / "no").exists(), "a missing database directory must not be created"
    assert (tmp_path / "not_a_db.sqlite").read_text() == "just text\n", "a file that is not a database must be left as it was"
    assert snapshot(cli_ctx) == before


# -- a few as real subprocesses --------------------------------------------------------------------
def test_real_processes_exit_nonzero_with_one_line(files: Path, tmp_path: Path) -> None:
    bad_yaml = tmp_path / "c.yaml"
    bad_yaml.write_text("risk: [\n  a: b")
    env = {"PATH": "/usr/bin:/bin", "APP__STORE__DATABASE_URL": f"sqlite:///{tmp_path}/p.db", "APP__LOG__DIR": str(tmp_path / "logs")}
    cases = [
        (["--config", str(bad_yaml), "data", "list"], env),
        (["data", "list"], {"PATH": "/usr/bin:/bin", "DATABASE_URL": "garbage://x", "APP__LOG__DIR": str(tmp_path / "logs")}),
        (["backtest", "--data", str(files / "bad_tick_up_1000x.parquet"), "--cash", "1000"], env),
    ]
    for (argv, environ), group in zip(cases, ("configuration", "configuration", "files"), strict=True):
        r = subprocess.run([sys.executable, "-m", "core", *argv], cwd=ROOT, capture_output=True, text=True, env=environ, timeout=120)
        TALLY["inputs"] += 1
        assert_clear_error(r.returncode, r.stderr + r.stdout, group=group)
        assert len([ln for ln in r.stderr.splitlines() if ln.startswith("error:")]) == 1, r.stderr
    store = tmp_path / "p.db"  # created (empty) by the run whose context opened; no refused input wrote a row
    if store.exists():
        engine = sa.create_engine(f"sqlite:///{store}")
        with engine.connect() as conn:
            rows = {n: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one() for n in sa.inspect(conn).get_table_names()}
        engine.dispose()
        assert not any(count for name, count in rows.items() if name != "alembic_version"), rows


SUBPROCESS_CASES = 3
ALL_CLI_INPUTS = len(FILE_CASES) + len(ARG_CASES) + len(CONFIG_CASES) + len(ENV_IDS) + SUBPROCESS_CASES


def test_the_table_holds_at_least_150_inputs() -> None:
    assert ALL_CLI_INPUTS >= 150


def test_tally_is_written() -> None:
    """Runs last in this file: write the counts; with the whole table run, every input was a clear error."""
    if TALLY["inputs"] == 0:
        pytest.skip("no input of the table ran (a -k selection)")
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    groups = {g: {k: c[k] for k in ("inputs", "clear_errors", "tracebacks", "silent_accepts")} for g, c in GROUPS.items()}
    counts = {"inputs": TALLY["inputs"], "clear_errors": TALLY["clear_errors"], "tracebacks": TALLY["tracebacks"],
              "silent_accepts": TALLY["silent_accepts"], "table_size": ALL_CLI_INPUTS, "by_group": groups}
    (out / "bad_input_counts_cli.json").write_text(json.dumps(counts, indent=2))
    print(f"\nbad-input table (CLI): {json.dumps(counts)}")
    assert TALLY["tracebacks"] == 0 and TALLY["silent_accepts"] == 0
    assert TALLY["clear_errors"] == TALLY["inputs"] == sum(g["inputs"] for g in groups.values())
