/**
 * TrackFeatures: one track's audio features, the event on the tracks topic and the body of
 * POST /tracks and POST /predict. Field names follow the Kaggle Spotify Tracks columns so a CSV row
 * maps one to one. Ranges are Spotify's documented ones, a little wider where the data goes wider.
 */
import { type Static, Type } from '@sinclair/typebox';

const unit = (description: string) => Type.Number({ minimum: 0, maximum: 1, description });

/** The model inputs, in the order the models expect them. */
export const AudioFeatures = {
  duration_ms: Type.Number({ minimum: 0, maximum: 86_400_000, description: 'Track length, milliseconds' }),
  explicit: Type.Boolean({ description: 'Explicit lyrics' }),
  danceability: unit('How suitable for dancing, 0..1'),
  energy: unit('Perceived intensity, 0..1'),
  key: Type.Integer({
    minimum: -1,
    maximum: 11,
    description: 'Pitch class, 0 = C .. 11 = B; -1 = no key detected',
  }),
  loudness: Type.Number({ minimum: -60, maximum: 5, description: 'Average loudness, dB (LUFS-like)' }),
  mode: Type.Integer({ minimum: 0, maximum: 1, description: '1 = major, 0 = minor' }),
  speechiness: unit('Presence of spoken words, 0..1'),
  acousticness: unit('Confidence the track is acoustic, 0..1'),
  instrumentalness: unit('Likelihood of no vocals, 0..1'),
  liveness: unit('Presence of an audience, 0..1'),
  valence: unit('Musical positiveness, 0..1'),
  tempo: Type.Number({ minimum: 0, maximum: 300, description: 'Estimated tempo, beats per minute' }),
  time_signature: Type.Integer({ minimum: 0, maximum: 7, description: 'Estimated beats per bar' }),
} as const;

export const FEATURE_NAMES = Object.keys(AudioFeatures) as (keyof typeof AudioFeatures)[];
export type FeatureName = (typeof FEATURE_NAMES)[number];

export const EVENT_SOURCES = ['cli', 'http', 'replay', 'sdk', 'test'] as const;

export const TrackFeatures = Type.Object(
  {
    track_id: Type.String({ minLength: 1, maxLength: 128, description: 'Spotify track id or any stable id' }),
    track_name: Type.Optional(Type.String({ maxLength: 1000 })),
    artists: Type.Optional(Type.String({ maxLength: 2000, description: 'Artists, `;`-separated' })),
    album_name: Type.Optional(Type.String({ maxLength: 1000 })),
    track_genre: Type.Optional(Type.String({ maxLength: 64 })),
    ...AudioFeatures,
    popularity: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 100, description: 'Ground truth, when known' }),
    ),
    event_time: Type.String({ format: 'date-time', description: 'When the event happened (ISO 8601)' }),
    source: Type.Union(
      EVENT_SOURCES.map((s) => Type.Literal(s)),
      { description: 'Who published it' },
    ),
  },
  { additionalProperties: false, $id: 'TrackFeatures' },
);
export type TrackFeatures = Static<typeof TrackFeatures>;

/**
 * What POST /tracks and `publish` take: a TrackFeatures whose `event_time` and `source` may be
 * left out (they default to now and the publisher's own source).
 */
export const TrackInput = Type.Object(
  {
    ...TrackFeatures.properties,
    event_time: Type.Optional(TrackFeatures.properties.event_time),
    source: Type.Optional(TrackFeatures.properties.source),
  },
  { additionalProperties: false, $id: 'TrackInput' },
);

/**
 * The features alone (what POST /predict takes): no id, time or source needed. The genre and the
 * artists are optional: the models then use what they learnt of an unknown genre or artist.
 */
export const FeatureInput = Type.Object(
  {
    ...AudioFeatures,
    track_genre: Type.Optional(Type.String({ maxLength: 64 })),
    artists: TrackFeatures.properties.artists,
  },
  { additionalProperties: false, $id: 'FeatureInput' },
);
export type FeatureInput = Static<typeof FeatureInput>;

/** Kafka header in which hitstream's publisher gives every track event its id (see scorers/decode.ts). */
export const EVENT_ID_HEADER = 'hitstream-event-id';
