import { describe, expect, it } from 'vitest';
import { decide } from '../../pipeline/core/decide.ts';
import type { Facts } from '../../pipeline/core/facts.ts';
import { USABLE_METADATA_KEYS } from '../../pipeline/core/log-entry.ts';
import { MessageSchema } from '../../pipeline/core/message-schema.ts';
import type { FlatObject } from '../../pipeline/core/scalar.ts';
import { compileTemplate, templateProblem } from '../../pipeline/core/template.ts';
import { validate } from '../../pipeline/core/validation.ts';
import {
  facts,
  identify,
  index,
  message,
  messageInput,
  NONE,
  only,
  run,
  track,
  withReason,
} from './builders.ts';

const render = (text: string, seen: Facts = facts()) => compileTemplate(text)(seen);

describe('rendering', () => {
  it.each([
    ['', ''],
    ['plain text', 'plain text'],
    ['{ single } braces and }} closers stay', '{ single } braces and }} closers stay'],
    ['{{ metadata.file }} is ready', 'a.png is ready'],
    ['{{metadata.file}}', 'a.png'],
    ['{{   metadata.file   }}', 'a.png'],
    ['{{ metadata.file }}{{ metadata.file }}', 'a.pnga.png'],
    ['{{ context.url }} / {{ user.first_name }} / {{ event.name }}', '/uploads / Ann / upload-completed'],
    ['{{ metadata.size }} bytes', '1024 bytes'],
    ['{{ metadata.ratio }}', '0.25'],
    ['{{ metadata.big }}', '1e+21'],
    ['{{ metadata.negative }}', '-3'],
    ['{{ metadata.yes }}/{{ metadata.no }}', 'true/false'],
    ['[{{ metadata.empty }}]', '[]'],
    ['[{{ metadata.empty | fallback: "x" }}]', '[]'],
    ['[{{ metadata.absent }}]', '[]'],
    ['[{{ metadata.nothing }}]', '[]'],
    ['Hi {{ user.nickname | fallback: "there" }}', 'Hi there'],
    ['Hi {{ metadata.nothing | fallback: "there" }}', 'Hi there'],
    ['Hi {{ user.first_name | fallback: "there" }}', 'Hi Ann'],
    ['{{ user.nickname|fallback:"x" }}', 'x'],
    ['{{ user.nickname | fallback: "say \\"hi\\" \\u00e9" }}', 'say "hi" é'],
    ['{{ user.nickname | fallback: "" }}!', '!'],
    ['{{ user.nickname | fallback: "{{ not a placeholder }}" }}', '{{ not a placeholder }}'],
  ] as const)('%j renders %j', (text, expected) => {
    const seen = facts({
      name: 'upload-completed',
      metadata: {
        file: 'a.png',
        size: 1024,
        ratio: 0.25,
        big: 1e21,
        negative: -3,
        yes: true,
        no: false,
        empty: '',
        nothing: null,
      },
      context: { url: '/uploads' },
      user: { first_name: 'Ann' },
    });
    expect(templateProblem(text)).toBeUndefined();
    expect(render(text, seen)).toBe(expected);
  });

  it('numbers render as JSON writes them', () => {
    for (const value of [0, -0, 1, 1.5, 0.1 + 0.2, 1e-7, 2 ** 53, -1e300]) {
      expect(render('{{ metadata.n }}', facts({ metadata: { n: value } }))).toBe(JSON.stringify(value));
    }
  });

  it.each(['__proto__', 'constructor', 'toString'])('a key named %s renders only its own value', (key) => {
    expect(render(`[{{ metadata.${key} }}]`, facts({ metadata: {} }))).toBe('[]');
    expect(render(`{{ user.${key} | fallback: "none" }}`, facts({ user: {} }))).toBe('none');
    const present = JSON.parse(`{${JSON.stringify(key)}: 7}`) as FlatObject;
    expect(render(`{{ user.${key} }}`, facts({ user: present }))).toBe('7');
  });
});

describe('malformed templates', () => {
  it.each([
    ['Hi {{ user.name', 'malformed placeholder at character 3'],
    ['{{ }}', 'malformed placeholder at character 0'],
    ['{{ user.name | fallback: there }}', 'malformed placeholder at character 0'],
    ["{{ user.name | fallback: 'there' }}", 'malformed placeholder at character 0'],
    ['{{ user.name | default: "x" }}', 'malformed placeholder at character 0'],
    ['{{ user.first name }}', 'malformed placeholder at character 0'],
    ['ok {{ user.a }} {{ user.b', 'malformed placeholder at character 16'],
    ['{{{ user.a }}}', 'malformed placeholder at character 0'],
    ['{{ foo.bar }}', 'unknown field "foo.bar" in placeholder at character 0'],
    ['{{ user }}', 'unknown field "user" in placeholder at character 0'],
    ['{{ event.id }}', 'unknown field "event.id" in placeholder at character 0'],
    [
      '{{ user.a | fallback: "bad \\q" }}',
      'invalid escape in the fallback of the placeholder at character 0',
    ],
  ] as const)('%j: %s', (text, problem) => {
    expect(templateProblem(text)).toMatch(new RegExp(`^${problem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(() => compileTemplate(text)).toThrow(problem);
  });

  it.each(['body', 'subject'] as const)('MessageSchema rejects a malformed %s naming the path', (part) => {
    const template =
      part === 'body' ? { body: 'Hi {{ user.name' } : { body: 'ok', subject: 'Hi {{ user.name' };
    const result = validate(MessageSchema, messageInput({ template }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual([
      `template.${part}: malformed placeholder at character 3: use {{ path }} or {{ path | fallback: "text" }}`,
    ]);
  });

  it('MessageSchema names an unknown placeholder field', () => {
    const result = validate(MessageSchema, messageInput({ template: { body: 'x {{ order.id }}' } }));
    expect(result).toEqual({
      ok: false,
      errors: [
        'template.body: unknown field "order.id" in placeholder at character 2: use metadata.<key>, context.<key>, user.<key> or event.name',
      ],
    });
  });

  it('a template body is required', () => {
    expect(validate(MessageSchema, messageInput({ template: {} }))).toEqual({
      ok: false,
      errors: ['template.body: required'],
    });
  });
});

describe('content of a sent decision', () => {
  it('subject is null when absent', () => {
    const decision = only(
      decide(undefined, track(), index(message({ template: { body: 'b' } })), NONE).decisions,
    );
    expect(withReason(decision, null).content).toEqual({ subject: null, body: 'b' });
  });

  it('subject and body are rendered from the entry and the user attributes', () => {
    const rules = index(
      message({
        template: {
          subject: '{{ metadata.file_name }} uploaded',
          body: '{{ metadata.file_name }} is ready, {{ user.first_name | fallback: "there" }}',
        },
      }),
    );
    const { decisions } = run(
      [
        track({ received_at: 1, metadata: { file_name: 'a.png' } }),
        identify({ first_name: 'Ann' }),
        track({ received_at: 2, metadata: { file_name: 'b.png' } }),
      ],
      rules,
    );
    expect(decisions.map((d) => withReason(d, null).content)).toEqual([
      { subject: 'a.png uploaded', body: 'a.png is ready, there' },
      { subject: 'b.png uploaded', body: 'b.png is ready, Ann' },
    ]);
  });

  it('a missing subject value renders the empty string, not null', () => {
    const rules = index(message({ template: { subject: '{{ metadata.none }}', body: 'b' } }));
    expect(withReason(only(decide(undefined, track(), rules, NONE).decisions), null).content.subject).toBe(
      '',
    );
  });
});

describe('the first 20 metadata keys', () => {
  const metadata: FlatObject = Object.fromEntries(
    Array.from({ length: USABLE_METADATA_KEYS + 2 }, (_, i) => [`k${i + 1}`, `v${i + 1}`]),
  );

  it('placeholders see keys 1 to 20 and treat the 21st and later as missing', () => {
    const body =
      '{{ metadata.k1 }} {{ metadata.k20 }} [{{ metadata.k21 }}] {{ metadata.k22 | fallback: "gone" }}';
    const rules = index(message({ template: { body } }));
    const decision = only(decide(undefined, track({ metadata }), rules, NONE).decisions);
    expect(withReason(decision, null).content.body).toBe('v1 v20 [] gone');
  });
});
