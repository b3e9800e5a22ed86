/**
 * Which of a source's audio tracks the outputs carry, and how each is encoded. Pure.
 *
 * Every track is carried by default (languages, commentary); the job option `audio_tracks` narrows that
 * to a list of track indexes (N of FFmpeg's `0:a:N`, as the job's `source.audio_tracks` lists them) or
 * language codes. Each carried track is encoded once for the whole job per distinct audio rendition.
 */
import type { AudioSpec } from "./profile-spec.ts";
import type { AudioTrack } from "./source.ts";

/** The sample rates outputs keep as they are; any other (8, 22.05, 32, 96 kHz…) is resampled to 48 kHz. */
const KEPT_RATES: readonly number[] = [44100, 48000];

/**
 * The tracks an `audio_tracks` selection names, in source order, with exactly one default: the source's
 * default when it is selected, else the first selected. No selection: every track. A selection naming a
 * track the source does not have is an error naming what the source has (an empty list means no audio).
 */
export function selectAudioTracks(tracks: readonly AudioTrack[], selection: ReadonlyArray<number | string> | undefined): { tracks: AudioTrack[] } | { error: string } {
  let chosen = [...tracks];
  if (selection !== undefined) {
    const missing = selection.filter((s) => !tracks.some((t) => matches(t, s)));
    if (missing.length > 0) {
      const has = tracks.length === 0 ? "none" : tracks.map((t) => `${t.index} (${t.language}${t.title ? `, "${t.title}"` : ""})`).join(", ");
      return { error: `audio_tracks names ${missing.map((m) => JSON.stringify(m)).join(", ")}, which the source does not have (its audio tracks: ${has})` };
    }
    chosen = tracks.filter((t) => selection.some((s) => matches(t, s)));
  }
  const def = chosen.findIndex((t) => t.default);
  return { tracks: chosen.map((t, i) => ({ ...t, default: i === (def < 0 ? 0 : def) })) };
}

function matches(track: AudioTrack, selector: number | string): boolean {
  return typeof selector === "number" ? track.index === selector : track.language.toLowerCase() === selector.toLowerCase();
}

/**
 * The profile's audio for one track: a profile without a fixed rate keeps 44.1 and 48 kHz and gets 48 kHz
 * for anything else (AAC at 8 kHz is valid but many players and HLS audio groups expect 44.1/48 kHz).
 * Channels stay the profile's: 5.1 is downmixed, mono spread over both channels of a stereo profile.
 */
export function trackAudioSpec(audio: AudioSpec, track: Pick<AudioTrack, "sample_rate">): AudioSpec {
  if (audio.sample_rate !== undefined || audio.codec === "opus" || KEPT_RATES.includes(track.sample_rate)) return audio;
  return { ...audio, sample_rate: 48000 };
}

/** Label of a track in messages and HLS names: its title, else its language, else its number. */
export function trackLabel(entry: { index: number; language: string; title: string | null }): string {
  return entry.title ?? (entry.language !== "und" ? entry.language : `track ${entry.index}`);
}

/** ISO 639-2/B codes FFmpeg writes where RFC 5646 (HLS LANGUAGE) wants the 2-letter code. */
const ISO639_2_TO_1: Readonly<Record<string, string>> = {
  eng: "en", fra: "fr", fre: "fr", deu: "de", ger: "de", spa: "es", ita: "it", por: "pt", nld: "nl", dut: "nl", rus: "ru",
  jpn: "ja", zho: "zh", chi: "zh", kor: "ko", ara: "ar", hin: "hi", pol: "pl", swe: "sv", nor: "no", dan: "da", fin: "fi",
  tur: "tr", ces: "cs", cze: "cs", ell: "el", gre: "el", heb: "he", hun: "hu", ukr: "uk", ron: "ro", rum: "ro",
};

/** The HLS LANGUAGE of a stream's language tag: 2-letter where one exists, undefined when unknown. */
export function hlsLanguage(tag: string): string | undefined {
  const t = tag.trim().toLowerCase();
  if (t === "" || t === "und") return undefined;
  return ISO639_2_TO_1[t] ?? (/^[a-z]{2,3}(-[a-z0-9]{1,8})*$/.test(t) ? t : undefined);
}
