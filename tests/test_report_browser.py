"""The HTML report as a browser sees it: loaded in headless Chromium (``--dump-dom``), the DOM
holds the three tables and the layer bars.  Skipped where no Chromium is installed."""
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

import costmodel

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-headless-shell",
                                           "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install "
                                                         "chromium)")


class DomSummary(HTMLParser):
    """Counts what the test looks for in the dumped DOM."""

    def __init__(self):
        super().__init__()
        self.tables, self.rows, self.svgs, self.layer_groups, self.bars = 0, [], 0, 0, 0
        self._table_rows = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables += 1
            self._table_rows = 0
        elif tag == "tr" and self._table_rows is not None:
            self._table_rows += 1
        elif tag == "svg" and "cm-layer-bars" in (a.get("class") or ""):
            self.svgs += 1
        elif tag == "g" and "cm-layer" in (a.get("class") or "").split():
            self.layer_groups += 1
        elif tag == "rect" and a.get("height") == "10":
            self.bars += 1

    def handle_endtag(self, tag):
        if tag == "table":
            self.rows.append(self._table_rows)
            self._table_rows = None


def test_chromium_sees_the_tables_and_the_bars(tmp_path):
    model = costmodel.zoo.create("squeezenet1_1")
    rep = costmodel.analyze(model, (1, 3, 64, 64))
    rep.model_name = "squeezenet1_1"
    path = tmp_path / "report.html"
    rep.to_html(path)
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--dump-dom", path.as_uri()], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = DomSummary()
    dom.feed(proc.stdout)
    costed = int(((rep.layers["madds"] > 0) | (rep.layers["mac"] > 0)).sum())
    # header row + one row per module / kind / layer
    assert dom.rows == [1 + len(rep.by_module(2)), 1 + len(rep.by_kind()), 1 + len(rep.layers)]
    assert dom.svgs == 1 and dom.layer_groups == costed
    assert dom.bars == 2 * costed  # a madds bar and a MAC bar per layer with a cost
