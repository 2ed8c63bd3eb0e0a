import type { KaggleTrack } from '../lib/kaggle-csv.ts';
import type { TrackFeatures } from '../schemas/index.ts';

/** A CSV row as a TrackFeatures event; the dataset's popularity travels as the ground-truth label. */
export function trackEventFromCsv(t: KaggleTrack, eventTime: string): TrackFeatures {
  return {
    track_id: t.track_id,
    ...(t.track_name ? { track_name: t.track_name } : {}),
    ...(t.artists ? { artists: t.artists } : {}),
    ...(t.album_name ? { album_name: t.album_name } : {}),
    ...(t.track_genre ? { track_genre: t.track_genre } : {}),
    duration_ms: t.duration_ms,
    explicit: t.explicit,
    danceability: t.danceability,
    energy: t.energy,
    key: t.key,
    loudness: t.loudness,
    mode: t.mode,
    speechiness: t.speechiness,
    acousticness: t.acousticness,
    instrumentalness: t.instrumentalness,
    liveness: t.liveness,
    valence: t.valence,
    tempo: t.tempo,
    time_signature: t.time_signature,
    ...(t.popularity !== undefined ? { popularity: t.popularity } : {}),
    event_time: eventTime,
    source: 'replay',
  };
}
