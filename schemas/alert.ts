/**
 * Alerts: what Alertmanager's webhook receiver sends (its JSON, version 4), and an alert as
 * hitstream stores and publishes it (the `alerts` table, the hitstream.alerts topic, GET /alerts).
 */
import { type Static, Type } from '@sinclair/typebox';

const Labels = Type.Record(Type.String(), Type.String());
/** Alertmanager sends a firing alert's end as 0001-01-01T00:00:00Z. */
const DateTimeText = Type.String({ format: 'date-time', maxLength: 64, description: 'RFC 3339' });

export const WebhookAlert = Type.Object({
  status: Type.Union([Type.Literal('firing'), Type.Literal('resolved')]),
  labels: Type.Intersect([Labels, Type.Object({ alertname: Type.String({ minLength: 1 }) })]),
  annotations: Labels,
  startsAt: DateTimeText,
  endsAt: DateTimeText,
  generatorURL: Type.Optional(Type.String()),
  fingerprint: Type.String({ minLength: 1, maxLength: 128 }),
});

export const AlertmanagerWebhook = Type.Object(
  {
    version: Type.Literal('4'),
    groupKey: Type.String(),
    truncatedAlerts: Type.Optional(Type.Integer({ minimum: 0 })),
    status: Type.Union([Type.Literal('firing'), Type.Literal('resolved')]),
    receiver: Type.String(),
    groupLabels: Labels,
    commonLabels: Labels,
    commonAnnotations: Labels,
    externalURL: Type.String(),
    alerts: Type.Array(WebhookAlert, { minItems: 1, maxItems: 1000 }),
  },
  { description: "Alertmanager's webhook payload (version 4)" },
);
export type AlertmanagerWebhook = Static<typeof AlertmanagerWebhook>;

export const StoredAlert = Type.Object(
  {
    fingerprint: Type.String(),
    alertname: Type.String(),
    status: Type.Union([Type.Literal('firing'), Type.Literal('resolved')]),
    severity: Type.String(),
    summary: Type.String(),
    runbook: Type.String(),
    labels: Labels,
    starts_at: Type.String({ format: 'date-time' }),
    ends_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    received_at: Type.String({ format: 'date-time' }),
  },
  { description: 'An alert as stored in the alerts table and published to the alerts topic' },
);
export type StoredAlert = Static<typeof StoredAlert>;
