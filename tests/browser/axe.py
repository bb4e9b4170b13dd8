"""axe-core in the browser tests: the vendored script is injected into the page under test (never
fetched from the network), run against the WCAG 2.x A and AA rules, and a test fails on every
serious or critical violation, each listed with its rule, its help and the elements it found."""

from pathlib import Path

import pytest

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor"
# One vendored release at a time: `make vendor` replaces the folder when the pin moves.
(AXE_SCRIPT,) = VENDOR.glob("axe-core-*/axe.min.js")

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = ("serious", "critical")

RUN = """async (tags) => {
  const options = { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] };
  const results = await axe.run(document, options);
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
  }));
}"""


def accessibility_violations(page) -> list[dict]:
    """axe's WCAG 2.x A/AA violations on the page as it is now, every impact."""
    # A page keeps axe until it navigates; a reload or a new page gets it again.
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=AXE_SCRIPT)
    return page.evaluate(RUN, WCAG_TAGS)


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"]:
            # "Fix any of the following:" then one check a line: kept on one line, checks apart.
            summary_lines = [line.strip() for line in (node["summary"] or "").splitlines() if line.strip()]
            head, *checks = summary_lines or [""]
            summary = f"{head} {'; '.join(checks)}" if checks else head
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)


def assert_accessible(page, context_label: str) -> None:
    """Fail the test if axe finds a serious or critical WCAG 2.x A/AA violation on `page`;
    `context_label` names the screen in the failure ("tablet, night mode")."""
    blocking = [v for v in accessibility_violations(page) if v["impact"] in BLOCKING]
    if blocking:
        pytest.fail(f"Accessibility violations on {context_label}:\n{describe(blocking)}")
