"""The shared report parts: machine_info and JsonReport.to_json."""

import json
from dataclasses import dataclass

import numpy as np

from tinct.bench.caption import CaptionReport
from tinct.bench.pairs import PairsReport
from tinct.bench.quality import QualityReport
from tinct.bench.report import JsonReport, machine_info
from tinct.bench.video import VideoReport


@dataclass
class _Report(JsonReport):
    value: float

    def to_dict(self) -> dict:
        return {"value": self.value, "machine": machine_info()}


def test_to_json_creates_folders_and_writes_numpy_scalars(tmp_path):
    path = _Report(np.float32(0.25)).to_json(tmp_path / "a" / "b" / "r.json")
    data = json.loads(path.read_text())
    assert data["value"] == 0.25
    assert set(data["machine"]) == {"platform", "python", "cpus"}
    assert data["machine"]["cpus"] >= 1


def test_every_report_shares_the_writer():
    for cls in (QualityReport, PairsReport, VideoReport, CaptionReport):
        assert issubclass(cls, JsonReport)
        assert cls.to_json is JsonReport.to_json
