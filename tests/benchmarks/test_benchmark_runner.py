"""``python -m benchmarks`` writes the figures into docs/performance.md, and the page holds
what the committed figures say (nobody edits a measured number by hand)."""

import json

import pytest

import benchmarks.__main__ as runner


def test_render_puts_each_section_between_the_markers_and_keeps_the_prose(tmp_path, monkeypatch):
    figures = tmp_path / "benchmarks"
    figures.mkdir()
    (figures / "load.json").write_text(json.dumps({"p95": 12}))
    (figures / "load_10m.json").write_text(json.dumps({"p95": 30}))
    (figures / "flag_jobs.json").write_text(json.dumps({"seconds": 3}))
    page = tmp_path / "performance.md"
    page.write_text(f"# Intro\n\n{runner.START}\nold figures\n{runner.END}\n\n## Why\n")
    monkeypatch.setattr(runner, "FIGURES", figures)
    monkeypatch.setattr(runner, "PAGE", page)
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    monkeypatch.setattr("benchmarks.load.markdown_of", lambda f: f"load p95 {f['p95']}")
    monkeypatch.setattr("benchmarks.flag_jobs.markdown_of", lambda f: f"jobs {f['seconds']} s")

    runner.render()

    text = page.read_text()
    assert text.startswith("# Intro\n\n")
    assert text.endswith(f"{runner.END}\n\n## Why\n")
    assert "old figures" not in text
    between = text.partition(runner.START)[2].partition(runner.END)[0]
    # load.json before another run of the step; no explain_filters.json: left out.
    assert between.strip() == "load p95 12\n\nload p95 30\n\njobs 3 s"


def test_render_refuses_a_page_without_the_markers(tmp_path, monkeypatch):
    page = tmp_path / "performance.md"
    page.write_text("# Intro\n")
    monkeypatch.setattr(runner, "FIGURES", tmp_path)
    monkeypatch.setattr(runner, "PAGE", page)
    with pytest.raises(SystemExit, match="needs the markers"):
        runner.render()
    assert page.read_text() == "# Intro\n"


def test_the_page_shows_the_committed_figures(tmp_path, monkeypatch):
    page = tmp_path / "performance.md"
    page.write_text(runner.PAGE.read_text())
    monkeypatch.setattr(runner, "PAGE", page)
    monkeypatch.setattr(runner, "ROOT", tmp_path)

    runner.render()

    assert page.read_text() == runner.PAGE.read_text(), "run: python -m benchmarks --steps render"


def test_an_unknown_step_is_refused(monkeypatch):
    monkeypatch.setattr("sys.argv", ["benchmarks", "--steps", "load,lunch"])
    with pytest.raises(SystemExit, match="Unknown steps: lunch"):
        runner.main()


def test_figures_are_quoted_from_the_root_and_a_quick_run_keeps_its_own(tmp_path):
    assert runner.figures_of("load", runner.FIGURES) == "docs/benchmarks/load.json"
    assert runner.figures_of("load", tmp_path) == str(tmp_path / "load.json")
