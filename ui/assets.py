"""The page's theme, styles and script (Gradio 6 takes them at launch; `serve` passes them)."""

from __future__ import annotations

from typing import Any

__all__ = ["APP_CSS", "APP_JS", "app_theme"]


def app_theme() -> Any:
    """Gradio's default theme on system fonts, with a primary colour that keeps white text
    readable (4.5:1 or more) in light and dark mode."""
    import gradio as gr

    theme = gr.themes.Default(primary_hue="blue", font=["ui-sans-serif", "system-ui",
                                                        "sans-serif"],
                              font_mono=["ui-monospace", "Consolas", "monospace"])
    return theme.set(
        button_primary_background_fill="#1d4ed8", button_primary_background_fill_dark="#1d4ed8",
        button_primary_background_fill_hover="#1e40af",
        button_primary_background_fill_hover_dark="#1e40af",
        button_primary_text_color="#ffffff", button_primary_text_color_dark="#ffffff",
        body_text_color_subdued="#4b5563", body_text_color_subdued_dark="#d1d5db",
    )


#: Colours are set as pairs (light, then `.dark`), each pair at 4.5:1 or more.
APP_CSS = """
:root { --qa-text: #111827; --qa-muted: #4b5563; --qa-card: #f9fafb; --qa-line: #d1d5db;
  --qa-mark-bg: #fde68a; --qa-mark-text: #111827; --qa-chip-bg: #dbeafe; --qa-chip-text: #1e3a8a;
  --qa-flag: #92400e; --qa-link: #1d4ed8; }
.dark { --qa-text: #f3f4f6; --qa-muted: #d1d5db; --qa-card: #1f2937; --qa-line: #4b5563;
  --qa-mark-bg: #854d0e; --qa-mark-text: #ffffff; --qa-chip-bg: #1e3a8a; --qa-chip-text: #ffffff;
  --qa-flag: #fcd34d; --qa-link: #93c5fd; }
#qa-title h1 { font-size: 1.6rem; font-weight: 650; margin: 0; }
#qa-title p, #qa-status p { margin: .15rem 0; color: var(--qa-muted); }
#qa-chat { max-height: calc(100vh - 340px); min-height: 260px; overflow-y: auto;
  padding-right: .25rem; }
@media (max-width: 720px) { #qa-chat { max-height: none; overflow: visible; } }
.qa-card li.qa-narrow { display: none; }
@media (max-width: 720px) { .qa-card li.qa-wide { display: none; }
  .qa-card li.qa-narrow { display: list-item; } }
.qa-conv { color: var(--qa-text); line-height: 1.55; overflow-wrap: anywhere; }
.qa-card, .qa-turn { border: 1px solid var(--qa-line); border-radius: .6rem;
  background: var(--qa-card); padding: .7rem .9rem; margin: 0 0 .7rem; }
.qa-card h2, .qa-turn h2 { font-size: 1rem; margin: 0 0 .35rem; }
.qa-card ul { margin: .2rem 0 0; padding-left: 1.1rem; }
.qa-card progress { width: 100%; height: .9rem; accent-color: #1d4ed8; }
.qa-card li, .qa-muted { color: var(--qa-muted); }
.qa-card li b { color: var(--qa-text); font-weight: 600; }
.qa-q { font-weight: 600; margin: 0 0 .4rem; }
.qa-who { display: inline-block; min-width: 4.2rem; color: var(--qa-muted); font-weight: 500; }
.qa-a p { margin: .3rem 0; }
.qa-answer { white-space: pre-line; }  /* an overview's lines, a generated answer's paragraphs */
.qa-overview, .qa-note { color: var(--qa-muted); font-style: italic; }
.qa-confidence { color: var(--qa-muted); font-size: .9em; }
.qa-conv button.qa-chip { background: var(--qa-chip-bg); color: var(--qa-chip-text);
  border: 0; border-radius: .4rem; padding: 0 .35em; margin: 0 .1em; font: inherit;
  font-weight: 600; cursor: pointer; min-width: 24px; min-height: 24px; }
.qa-conv button.qa-chip:focus-visible, .qa-conv summary:focus-visible,
.qa-conv button.qa-copy:focus-visible { outline: 3px solid var(--qa-link); outline-offset: 2px; }
.qa-sources { margin: .5rem 0 0; padding: 0; list-style: none; }
.qa-sources > li { margin: .3rem 0; }
.qa-sources-head { margin: .6rem 0 0; font-weight: 600; }
.qa-conv details > summary { cursor: pointer; color: var(--qa-text); }
.qa-cite-src { color: var(--qa-muted); }
.qa-passage { margin: .3rem 0 .5rem 1rem; }
@media (max-width: 720px) { .qa-passage { margin-left: 0; } }  /* a phone's width is for text */
.qa-meta { margin: 0; color: var(--qa-muted); font-size: .92rem; }
.qa-meta.qa-title { color: var(--qa-text); font-weight: 600; }
.qa-meta a { color: var(--qa-link); }
.qa-flag { margin: .3rem 0; color: var(--qa-flag); font-weight: 600; }
.qa-context { white-space: pre-wrap; margin: .35rem 0; padding: .4rem .7rem;
  border-left: 3px solid var(--qa-line); max-height: 16rem; overflow-y: auto; }
.qa-whole .qa-context { max-height: 60vh; }
.qa-conv mark { background: var(--qa-mark-bg); color: var(--qa-mark-text); padding: 0 .1em; }
.qa-conv button.qa-copy { background: transparent; color: var(--qa-link);
  border: 1px solid var(--qa-line); border-radius: .4rem; padding: .05rem .5rem;
  font: inherit; font-size: .9rem; cursor: pointer; margin-top: .3rem; }
.qa-live .qa-a { color: var(--qa-text); }
.qa-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
#qa-examples { margin-top: .25rem; }
#qa-ask-row { align-items: flex-end; }
#qa-ask { align-self: flex-end; min-height: 2.6rem; }
@media (max-width: 720px) {  /* the question box takes the width, the button its label's */
  #qa-ask-row { flex-wrap: nowrap; gap: .5rem; }
  #qa-question { flex: 1 1 auto !important; min-width: 0 !important; }
  #qa-ask { flex: 0 0 auto !important; min-width: 4.5rem !important; width: auto !important; }
}
#qa-status { min-height: 1.5rem; }
textarea::placeholder, input::placeholder { color: var(--qa-muted) !important; opacity: 1; }
/* (Gradio's own textbox style sets `outline: none !important`; its date boxes are textareas) */
#qa-question textarea:focus-visible, #qa-since textarea:focus-visible,
#qa-until textarea:focus-visible, #qa-since input:focus-visible,
#qa-until input:focus-visible { outline: 3px solid var(--qa-link) !important;
  outline-offset: 1px; }
"""

#: Runs once in the page: citation chips open their passage, "Copy" copies the answer as plain
#: text, an opened whole article scrolls its highlight into view, a new answer comes into view
#: (its question at the top, the first passage's quote centred inside that passage's box)
#: and is read out by screen readers (a polite live region); accordions say if they are open.
APP_JS = """
() => {
  const showMark = (box, intoWindow) => {  // centred in its passage's own scroller; and
    const mark = box && box.querySelector('mark');  // when asked, brought into the window
    const scroller = mark && mark.closest('.qa-context');
    if (!scroller) return;
    const quote = mark.getBoundingClientRect();  // centred; a tall one from its first line
    scroller.scrollTop += quote.top - scroller.getBoundingClientRect().top
      - Math.max(0, (scroller.clientHeight - quote.height) / 2);
    if (intoWindow) mark.scrollIntoView({block: 'nearest', inline: 'nearest'});
  };
  const live = document.createElement('div');  // what a screen reader is told
  live.className = 'qa-sr'; live.id = 'qa-announce';
  live.setAttribute('aria-live', 'polite'); live.setAttribute('role', 'status');
  document.body.appendChild(live);
  const say = (text) => {
    live.textContent = '';
    setTimeout(() => { live.textContent = text; }, 50);
  };
  const copy = async (text, button) => {
    try { await navigator.clipboard.writeText(text); }
    catch (e) {
      const area = document.createElement('textarea');
      area.value = text; document.body.appendChild(area); area.select();
      document.execCommand('copy'); area.remove();
    }
    const label = button.textContent; button.textContent = 'Copied'; say('Answer copied');
    setTimeout(() => { button.textContent = label; }, 1500);
  };
  const expanded = () => document.querySelectorAll('button.label-wrap').forEach((b) =>
    b.setAttribute('aria-expanded', b.classList.contains('open') ? 'true' : 'false'));
  document.addEventListener('click', (event) => {
    if (event.target.closest('button.label-wrap')) setTimeout(expanded, 0);  // an accordion
    const chip = event.target.closest('button.qa-chip');
    if (chip) {
      const cite = document.getElementById(chip.dataset.cite);
      if (!cite) return;
      cite.open = true;
      cite.scrollIntoView({block: 'nearest', behavior: 'smooth'});
      cite.querySelector('summary').focus({preventScroll: true});
      showMark(cite.querySelector('.qa-passage'), true);
      return;
    }
    const button = event.target.closest('button.qa-copy');
    if (button) copy(button.dataset.copy, button);
  });
  document.addEventListener('toggle', (event) => {
    const box = event.target;
    if (box.open && box.matches && box.matches('details.qa-whole')) showMark(box, true);
    // a passage: within its box only (the latest answer's first opens by itself, and the
    // answer above it must stay in view)
    if (box.open && box.matches && box.matches('details.qa-cite')) {
      showMark(box.querySelector('.qa-passage'), false);
    }
  }, true);
  new MutationObserver(() => {
    expanded();
    const turns = document.querySelectorAll('#qa-history .qa-turn');
    const last = turns[turns.length - 1];
    if (last && last.dataset.shown !== '1') {
      last.dataset.shown = '1';
      const chat = document.getElementById('qa-chat');
      if (chat && chat.scrollHeight > chat.clientHeight) {
        chat.scrollTop = last.offsetTop - chat.offsetTop - 8;
      } else { last.scrollIntoView({block: 'start'}); }
      showMark(last.querySelector('details.qa-cite[open] .qa-passage'), false);
      const answer = last.querySelector('.qa-answer, .qa-flag');
      if (answer) say('Answer: ' + answer.innerText);
    }
  }).observe(document.body, {childList: true, subtree: true});
}
"""
