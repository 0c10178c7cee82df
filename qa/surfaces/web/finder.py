"""The page's 政策速查 tab: filters, a sortable table of measures with citations, and a profile checklist."""

from __future__ import annotations

import gradio as gr

from qa.render.markdown import answer_markdown
from qa.service import Service
from qa.surfaces.web.guard import guarded
from qa.surfaces.web.page import ANY, FINDER_COLUMNS, finder_line, measure_panel, progress_text


def finder_tab(service: Service, tab: gr.Tab) -> None:
    """Add the measure finder to the tab."""
    rows_state = gr.State([])

    def options(field: str) -> list[str]:
        return [ANY, *service.vocabulary(field)]

    def regions() -> dict:
        return gr.update(choices=[ANY, *service.regions()])

    @guarded
    def search(region: str, kind: str, industry: str, who: str) -> tuple[list[list[str]], list[str], str]:
        if not service.ready:
            return [], [], progress_text(service)
        rows = service.finder(*(None if v == ANY else v for v in (region, kind, industry, who)))
        return ([finder_line(f) for f in rows], [f.row.clause_id for f in rows],
                f"共找到 {len(rows)} 项措施，点击某一行查看条款原文。")

    @guarded
    def show(rows: list[str], event: gr.SelectData) -> str:
        if not service.ready or not rows or event.index[0] >= len(rows):
            return ""
        return measure_panel(service, rows[event.index[0]])

    @guarded
    def checklist(profile: str) -> str:
        if not service.ready:
            return progress_text(service)
        return answer_markdown(service.checklist(profile))

    with gr.Row():
        region = gr.Dropdown([ANY], value=ANY, label="地区", allow_custom_value=True, elem_id="finder-region")
        kind = gr.Dropdown(options("type"), value=ANY, label="类型", elem_id="finder-type")
        industry = gr.Dropdown(options("industry"), value=ANY, label="行业", elem_id="finder-industry")
        who = gr.Dropdown(options("beneficiary"), value=ANY, label="对象/规模", elem_id="finder-beneficiary")
    go = gr.Button("查询", variant="primary", elem_id="finder-search")
    count = gr.Markdown("", elem_id="finder-count")
    # On a phone the seven columns cannot fit: say that the table scrolls (app.css shows this only there).
    gr.HTML("<p class='hint'>表格较宽，可左右滑动查看全部 7 列；点击某一行可查看条款原文。</p>", elem_id="finder-swipe")
    table = gr.Dataframe(headers=FINDER_COLUMNS, interactive=False, wrap=True, elem_id="finder-table",
                         column_widths=["72px", "96px", "130px", "300px", "110px", "110px", "220px"])
    panel = gr.HTML("<p class='hint'>点击表格中的一行，在此查看条款原文。</p>", elem_id="finder-panel")
    gr.Markdown("### 哪些政策适用于我")
    with gr.Row():
        profile = gr.Textbox(placeholder="例如：我是深圳的一家动漫中小企业", show_label=False, scale=5,
                             elem_id="profile")
        make = gr.Button("生成清单", elem_id="profile-go")
    result = gr.Markdown("", elem_id="profile-result")
    tab.select(regions, outputs=[region])
    go.click(search, [region, kind, industry, who], [table, rows_state, count])
    table.select(show, [rows_state], [panel])
    make.click(checklist, [profile], [result])
    profile.submit(checklist, [profile], [result])
