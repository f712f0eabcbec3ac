import type { InboxEntry } from '../../pipeline/ports/inbox.ts';
import { RENDERED_CHANNELS } from '../../pipeline/ports/inbox.ts';
import { injectStyle } from './render-style.ts';

/** What the person does with a rendered message; the session records each. */
export type RenderActions = {
  readonly onShown: (entry: InboxEntry) => void;
  readonly onDismiss: (entry: InboxEntry) => void;
  readonly onClick: (entry: InboxEntry) => void;
  /** A survey's answer, 1 (not at all) to 5 (very much). */
  readonly onAnswer: (entry: InboxEntry, answer: number) => void;
};

/** Banners shown at once (the newest replaces the one before), and cards, bubbles and surveys in the corner. */
const TOP_KEPT = 1;
const CORNER_KEPT = 3;
const ANSWERS = [1, 2, 3, 4, 5] as const;
const THANKS_MS = 2_500;
const SVG = 'http://www.w3.org/2000/svg';

/**
 * Puts in-app messages in the page: a banner fixed at the top, a post as a card and a chat as a
 * bubble in the bottom right corner, a survey as one question (its body) answered on a scale of
 * 1 to 5. Every value is set as text (`textContent`), never as markup, so a template value can
 * never add an element or run a script. Each message is an element with
 * `data-nudge-message="<message id>"` and `data-nudge-decision="<decision id>"`, with a close
 * button (`data-nudge-dismiss`). A message replaced by a newer one (`TOP_KEPT`, `CORNER_KEPT`) is
 * only taken off the page: it stays in the inbox, seen.
 */
export class Renderer {
  private readonly actions: RenderActions;
  private readonly doc: Document;
  private top: HTMLElement | undefined;
  private corner: HTMLElement | undefined;

  constructor(actions: RenderActions, doc: Document = document) {
    this.actions = actions;
    this.doc = doc;
  }

  /** The style and the two regions, made before any message so screen readers announce what comes into them. */
  mount(): void {
    if (this.top !== undefined) return;
    injectStyle(this.doc);
    this.top = this.region('nudge-top', 'Announcements');
    this.corner = this.region('nudge-corner', 'Messages');
  }

  /** Takes every rendered message off the page (the inbox keeps them). */
  unmount(): void {
    this.top?.remove();
    this.corner?.remove();
    this.top = undefined;
    this.corner = undefined;
  }

  /** Renders a message of a rendered channel not already in the page; whether it did. */
  show(entry: InboxEntry): boolean {
    if (!RENDERED_CHANNELS.includes(entry.channel)) return false;
    this.mount();
    const region = entry.channel === 'banner' ? this.top : this.corner;
    if (region === undefined || this.find(entry.decision_id) !== null) return false;
    region.append(this.element(entry));
    const kept = entry.channel === 'banner' ? TOP_KEPT : CORNER_KEPT;
    while (region.children.length > kept) region.firstElementChild?.remove();
    this.actions.onShown(entry);
    return true;
  }

  private find(decisionId: string): Element | null {
    for (const region of [this.top, this.corner])
      for (const child of Array.from(region?.children ?? []))
        if (child.getAttribute('data-nudge-decision') === decisionId) return child;
    return null;
  }

  private region(className: string, label: string): HTMLElement {
    const region = this.doc.createElement('div');
    region.className = className;
    region.setAttribute('aria-live', 'polite');
    region.setAttribute('aria-label', label);
    // Booted from a script in <head>, before <body> is parsed: the page's root holds it (fixed, it shows the same).
    ((this.doc.body as HTMLElement | null) ?? this.doc.documentElement).append(region);
    return region;
  }

  private element(entry: InboxEntry): HTMLElement {
    const element = this.doc.createElement('aside');
    element.className = `nudge-message nudge-${entry.channel}`;
    element.setAttribute('data-nudge-message', entry.message_id);
    element.setAttribute('data-nudge-decision', entry.decision_id);
    element.setAttribute('data-nudge-channel', entry.channel);
    element.setAttribute('aria-label', entry.subject ?? LABELS[entry.channel] ?? 'Message');
    // <div>, not <p>: a page's rules for its paragraphs (a color, a margin) are not the message's.
    if (entry.subject !== null && entry.subject !== '')
      element.append(this.text('div', 'nudge-subject', entry.subject));
    element.append(this.text('div', 'nudge-body', entry.body));
    if (entry.channel === 'survey') element.append(...this.answers());
    element.append(this.dismissButton());
    this.listen(element, entry);
    return element;
  }

  private listen(element: HTMLElement, entry: InboxEntry): void {
    let clicked = false;
    const dismiss = () => {
      element.remove();
      this.actions.onDismiss(entry);
    };
    element.addEventListener('click', (event) => {
      const target = event.target instanceof Element ? event.target : null;
      if (target?.closest('[data-nudge-dismiss]')) {
        dismiss();
        return;
      }
      const answer = target?.closest('[data-nudge-answer]')?.getAttribute('data-nudge-answer');
      if (answer !== undefined && answer !== null) this.answered(element, entry, Number(answer));
      if (!clicked) this.actions.onClick(entry);
      clicked = true;
    });
    element.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') dismiss();
    });
  }

  /** A survey answered: thanked, then taken off the page (answered is not dismissed). */
  private answered(element: HTMLElement, entry: InboxEntry, answer: number): void {
    for (const part of Array.from(element.querySelectorAll('.nudge-answers, .nudge-scale'))) part.remove();
    element.insertBefore(this.text('div', 'nudge-thanks', 'Thank you!'), element.lastElementChild);
    this.actions.onAnswer(entry, answer);
    setTimeout(() => {
      element.remove();
    }, THANKS_MS);
  }

  private answers(): HTMLElement[] {
    const group = this.doc.createElement('div');
    group.className = 'nudge-answers';
    group.setAttribute('role', 'group');
    group.setAttribute('aria-label', 'Your answer, from 1 (not at all) to 5 (very much)');
    for (const value of ANSWERS) {
      const button = this.text('button', '', String(value));
      button.setAttribute('type', 'button');
      button.setAttribute('data-nudge-answer', String(value));
      group.append(button);
    }
    const scale = this.doc.createElement('div');
    scale.className = 'nudge-scale';
    scale.setAttribute('aria-hidden', 'true');
    scale.append(this.text('span', '', 'Not at all'), this.text('span', '', 'Very much'));
    return [group, scale];
  }

  private dismissButton(): HTMLElement {
    const button = this.doc.createElement('button');
    button.type = 'button';
    button.className = 'nudge-dismiss';
    button.setAttribute('data-nudge-dismiss', '');
    button.setAttribute('aria-label', 'Dismiss');
    const svg = this.doc.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 14 14');
    svg.setAttribute('aria-hidden', 'true');
    const path = this.doc.createElementNS(SVG, 'path');
    path.setAttribute('d', 'M2 2l10 10M12 2L2 12');
    path.setAttribute('stroke', 'currentColor');
    path.setAttribute('stroke-width', '1.8');
    path.setAttribute('stroke-linecap', 'round');
    svg.append(path);
    button.append(svg);
    return button;
  }

  /** An element holding `value` as text: the only way a message's values reach the page. */
  private text<K extends keyof HTMLElementTagNameMap>(
    tag: K,
    className: string,
    value: string,
  ): HTMLElementTagNameMap[K] {
    const element = this.doc.createElement(tag);
    if (className !== '') element.className = className;
    element.textContent = value;
    return element;
  }
}

/** What a screen reader calls a message without a subject. */
const LABELS: Partial<Record<string, string>> = {
  banner: 'Announcement',
  post: 'Message',
  chat: 'Chat message',
  survey: 'Question',
};
