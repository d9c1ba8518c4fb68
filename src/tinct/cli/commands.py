"""Subcommands ``methods``, ``eval``, ``bench quality``, ``bench pairs``, ``serve``, ``demo`` (``train``:
:mod:`.train`)."""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import tinct
from tinct.cli.parser import UsageError, _formatter, format_table, load_colorizer, method_options
from tinct.errors import TinctError
from tinct.registry import MissingInput


def cmd_methods(args: argparse.Namespace) -> int:
    """``tinct methods [NAME]``: the table of methods, or one method's inputs, options and weights."""
    if args.name:
        return _show_method(tinct.method_info(args.name), as_json=args.json)
    infos = tinct.list_methods()
    default = tinct.DEFAULT_METHOD
    if args.json:
        print(json.dumps([_method_dict(i) | {"default": i.name == default} for i in infos], indent=2))
        return 0
    rows = [(i.name + (" *" if i.name == default else ""), ",".join(sorted(i.needs)) or "-",
             ",".join(i.weights) or "-", "yes" if i.trainable else "no", i.paper, i.summary)
            for i in infos]
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None  # piped: full text
    headers = ("name", "needs", "weights", "trainable", "paper", "summary")
    print(format_table(headers, rows, width, shrink=(4, 5)))
    print(f"\n* default method ({default}); use --method NAME to choose another; "
          "'tinct methods NAME' shows a method's options and weights.")
    return 0


def _method_dict(info: Any) -> dict[str, Any]:
    from tinct.weights import bundled_path

    return {"name": info.name, "summary": info.summary, "paper": info.paper, "needs": sorted(info.needs),
            "accepts": sorted(info.accepts), "modality": info.modality, "keeps_luma": info.keeps_luma,
            "bundled_weights": info.bundled_weights, "trainable": info.trainable,
            "options": [{"name": o.name, "type": o.type, "default": o.default, "help": o.help}
                        for o in info.option_specs()],
            "weights": [{"name": k, "description": v, "bundled": bundled_path(info.name, k).is_file()}
                        for k, v in info.weights.items()]}


def _show_method(info: Any, *, as_json: bool) -> int:
    """One method in full: what it needs, its options (type, default, help) and weight variants."""
    d = _method_dict(info)
    if as_json:
        print(json.dumps(d, indent=2, default=str))
        return 0
    print(f"{info.name}: {info.summary}\npaper: {info.paper}")
    print(f"input: {info.modality}; output keeps the input's luma: {'yes' if info.keeps_luma else 'no'}")
    print(f"needs: {', '.join(d['needs']) or '-'}; can use: {', '.join(d['accepts']) or '-'}")
    if d["options"]:
        print("\noptions (-O KEY=VALUE):")
        print(format_table(("name", "type", "default", "help"),
                           [(o["name"], o["type"], repr(o["default"]), o["help"]) for o in d["options"]]))
    else:
        print("\noptions: none")
    if d["weights"]:
        print("\nweights (--weights NAME, or a .safetensors path):")
        print(format_table(("name", "bundled", "description"),
                           [(w["name"], "yes" if w["bundled"] else "missing", w["description"])
                            for w in d["weights"]]))
    print(f"\ntraining: {'tinct train ' + info.name + ' --help' if info.trainable else 'not trainable'}")
    return 0


_SCORE_HEADERS = ("PSNR", "SSIM", "CIEDE2000", "colourful pred", "colourful GT")


def _score_cells(v: dict[str, float]) -> list[str]:
    return [f"{v['psnr']:.2f}", f"{v['ssim']:.4f}", f"{v['ciede2000']:.2f}", f"{v['colorfulness_pred']:.1f}",
            f"{v['colorfulness_gt']:.1f}"]


def cmd_eval(args: argparse.Namespace) -> int:
    """``tinct eval PRED_DIR GT_DIR``: per-image scores and means; problems on stderr."""
    from tinct.bench.quality import METRICS, evaluate_folders

    result = evaluate_folders(args.pred_dir, args.gt_dir)
    for line in result.errors:
        print(f"error: {line}", file=sys.stderr)
    if result.unmatched_preds and not args.quiet:
        print(f"note: {len(result.unmatched_preds)} prediction(s) match no ground truth: "
              f"{', '.join(result.unmatched_preds[:5])}{' ...' if len(result.unmatched_preds) > 5 else ''}",
              file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["image", "prediction", *METRICS])
        for r in result.rows:
            writer.writerow([r["image"], r["prediction"], *(repr(float(r[k])) for k in METRICS)])
    else:
        rows = [[r["image"], r["prediction"], *_score_cells(r)] for r in result.rows]
        rows.append(["mean", f"({len(result.rows)} images)", *_score_cells(result.means())])
        print(format_table(("image", "prediction", *_SCORE_HEADERS), rows))
    return 1 if result.errors else 0


def cmd_bench_quality(args: argparse.Namespace) -> int:
    """``tinct bench quality``: print the Markdown table; write JSON when asked."""
    from tinct.bench.quality import evaluate_quality

    prog = "tinct bench quality"
    method = args.method or tinct.DEFAULT_METHOD
    try:
        tinct.method_info(method).check_inputs(())
    except MissingInput as exc:
        raise TinctError(f"tinct bench quality scores automatic methods; {exc} (use its own benchmark)"
                          ) from None
    colorizer = load_colorizer(method, method_options(args, prog), prog)
    report = evaluate_quality(colorizer, args.data, limit=args.limit,
                              progress=not args.quiet and sys.stderr.isatty())
    report.command = " ".join(["tinct", *args.argv])
    print(report.to_markdown())
    if args.json is not None:
        path = report.to_json(args.json or Path("docs/results") / f"{report.method}_{report.dataset}.json")
        print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_bench_pairs(args: argparse.Namespace) -> int:
    """``tinct bench pairs``: print the Markdown table; write JSON / Markdown when asked. Any bad input
    (method, glob, file, sizes) is one line and exit 2."""
    from dataclasses import asdict, is_dataclass

    from tinct.bench.pairs import evaluate_pairs, match_globs

    prog = "tinct bench pairs"
    note = (lambda msg: None) if args.quiet else (lambda msg: print(f"note: {msg}", file=sys.stderr))
    try:
        info = tinct.method_info(args.method)
        try:
            info.check_inputs(())
        except MissingInput as exc:
            raise TinctError(f"tinct bench pairs colours the input band alone; {exc}") from None
        pairs, unused = match_globs(args.inputs, args.truth)
        colorizer = load_colorizer(args.method, method_options(args, prog), prog)
        if info.modality != "nir":
            note(f"'{info.name}' expects a {info.modality} input; it is given the input band as that")
        if unused:
            note(f"{len(unused)} truth file(s) match no input and are not scored: {', '.join(unused[:5])}")
        report = evaluate_pairs(colorizer.colorize, pairs, args.align_radius, name=colorizer.name,
                                limit=args.limit, resize_truth=args.resize_truth,
                                progress=not args.quiet and sys.stderr.isatty())
    except TinctError as exc:
        raise UsageError(prog, str(exc)) from None
    report.data = {"inputs": args.inputs, "truth": args.truth}
    report.options = asdict(colorizer.options) if is_dataclass(colorizer.options) else {}
    report.command = " ".join(["tinct", *args.argv])
    print(report.to_markdown())
    for out, write in ((args.json, report.to_json), (args.markdown, _write_markdown(report))):
        if out:
            print(f"wrote {write(out)}", file=sys.stderr)
    return 0


def _write_markdown(report: Any) -> Any:
    def write(path: str) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report.markdown_document())
        return out
    return write


def cmd_serve(extra: list[str]) -> int:
    """``tinct serve ...``: delegate to ``tinct.web.server``."""
    server = _import_optional("tinct.web.server", "the web interface (tinct.web.server) is not part of this "
                              "installation")
    parser = argparse.ArgumentParser(prog="tinct serve", formatter_class=_formatter,
                                     description="Start the tinct web interface.")
    server.add_arguments(parser)
    try:
        sargs = parser.parse_args(extra)
    except SystemExit as exc:
        return int(exc.code or 0)
    return int(server.main(sargs) or 0)


def _import_optional(name: str, missing: str) -> Any:
    """Import ``name``; a :class:`TinctError` with ``missing`` if that module (not a dependency) is absent."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise TinctError(missing) from None
        raise


def cmd_demo(args: argparse.Namespace) -> int:
    """``tinct demo``: colorize a sample photo from the scikit-image wheel."""
    from tinct.demo import run_demo

    result = run_demo(args.out_dir, args.method)
    print(f"input (gray):  {result.gray_path}")
    print(f"result:        {result.result_path}")
    print(f"side by side:  {result.compare_path}   (input | {result.method} | original)")
    print(f"PSNR {result.psnr:.2f} dB, SSIM {result.ssim:.4f} against the original photo")
    return 0
