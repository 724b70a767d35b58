"""Issue 24: a caption's link cannot run script in report.html. Captions are reStructuredText
from the repository, rendered by docutils, which keeps any URI scheme; the report keeps only
http(s), mailto, fragments and relative paths."""

import pytest

from mfgstudy.report.html import render_caption, safe_links


@pytest.mark.parametrize(
    "uri", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html;base64,PHNjcmlwdD4=",
            "vbscript:msgbox(1)"],
)  # fmt: skip
def test_a_script_link_in_a_caption_is_neutralised(tmp_path, uri):
    rst = tmp_path / "caption.rst"
    rst.write_text(f"See `the data <{uri}>`_ and `the paper <https://example.org/p>`_.\n")
    body = render_caption(str(rst), {}, None)
    assert "script:" not in body.lower() and "data:" not in body
    assert 'href="#"' in body  # the link text stays, pointing nowhere
    assert 'href="https://example.org/p"' in body


@pytest.mark.parametrize(
    "attr",
    ['href="java&#115;cript:x"', "href=' javascript:x'", 'HREF="java\tscript:x"',
     'src="javascript:x"'],
)  # fmt: skip
def test_obfuscated_schemes_are_read_as_a_browser_reads_them(attr):
    out = safe_links(f"<a {attr}>t</a>")
    assert "script" not in out.lower().replace("<a ", ""), out


@pytest.mark.parametrize("url", ["#ledger", "figures/a.png", "https://x.org", "mailto:a@b.c"])
def test_safe_links_are_kept(url):
    assert safe_links(f'<a href="{url}">t</a>') == f'<a href="{url}">t</a>'
