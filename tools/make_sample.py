"""Regenerate the bundled sample session from its committed source text.

Needs Debian's ``espeak-ng`` and an ffmpeg (system or the imageio-ffmpeg wheel's).
Two espeak-ng French variants play the moderator and the speaker; the audio is muxed
with a still image into an MP4 so that the pipeline's video ingestion is exercised.

    python tools/make_sample.py recordings/2022-03-17-sobriete.txt recordings/2022-03-17-sobriete.mp4
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

VOICES = {"moderator": "fr+m1", "speaker": "fr+m3"}
WORDS_PER_MINUTE = 130
GAP_SECONDS = 0.6


def read_script(path: Path) -> list[tuple[str, str]]:
    """Return (role, text) pairs from a ``ROLE|text`` script, skipping comments."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        role, text = raw.split("|", 1)
        lines.append((role.strip(), text.strip()))
    return lines


def ffmpeg_exe() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def main(script: Path, output: Path) -> None:
    ffmpeg = ffmpeg_exe()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        parts = []
        silence = tmpdir / "gap.wav"
        subprocess.run(
            [
                ffmpeg,
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "anullsrc=r=22050:cl=mono",
                "-t",
                str(GAP_SECONDS),
                "-c:a",
                "pcm_s16le",
                str(silence),
            ],
            check=True,
        )
        for index, (role, text) in enumerate(read_script(script)):
            wav = tmpdir / f"{index:03d}.wav"
            subprocess.run(
                ["espeak-ng", "-v", VOICES[role], "-s", str(WORDS_PER_MINUTE), "-w", str(wav), text],
                check=True,
            )
            parts += [wav, silence]
        listing = tmpdir / "list.txt"
        listing.write_text("".join(f"file '{p}'\n" for p in parts), encoding="utf-8")
        speech = tmpdir / "speech.wav"
        subprocess.run(
            [ffmpeg, "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing), "-c:a", "pcm_s16le", str(speech)], check=True
        )
        import av

        with av.open(str(speech)) as container:
            seconds = container.duration / 1_000_000
        # -shortest overshoots with an endless lavfi video: give the still image the audio's length.
        subprocess.run(
            [
                ffmpeg,
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-t",
                f"{seconds:.3f}",
                "-i",
                "color=c=0x1d3557:s=640x360:r=1",
                "-i",
                str(speech),
                "-map",
                "0:v",
                "-map",
                "1:a",
                "-c:v",
                "libx264",
                "-tune",
                "stillimage",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-b:a",
                "64k",
                "-ac",
                "1",
                "-metadata",
                "title=Sobriété, matérialité et infrastructures (échantillon synthétique)",
                "-metadata",
                "language=fra",
                "-movflags",
                "+faststart",
                str(output),
            ],
            check=True,
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
