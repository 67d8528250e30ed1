"""Rebuild this folder's clips from the Debian packages they come from.

    apt-get download sonic-pi-samples asterisk-core-sounds-en-wav
    for f in *.deb; do dpkg -x "$f" x; done
    python datasets/audio/build.py x

Long stereo samples are re-encoded to Ogg Vorbis and most speech prompts to FLAC
(lossless) to keep the folder small; a few stay in their original format and two
are written as MP3 so that every format the app reads is represented.
"""

from __future__ import annotations

import sys
from pathlib import Path

import soundfile as sf

HERE = Path(__file__).parent

SONIC_PI_OGG = [
    "loop_tabla", "ambi_glass_hum", "guit_em9", "ambi_haunted_hum", "loop_safari", "loop_mika",
    "loop_garzul", "misc_cineboom", "ambi_lunar_land", "loop_amen_full", "perc_bell",
    "loop_compus", "bass_voxy_c", "guit_e_fifths", "ambi_drone", "drum_roll", "guit_e_slide",
    "ambi_piano", "bass_woodsy_c", "tabla_ghe6", "ambi_choir",
]
SONIC_PI_MP3 = ["ambi_dark_woosh", "bass_trance_c"]
SONIC_PI_FLAC = [
    "guit_harmonics", "perc_till", "elec_chime", "tabla_tun1", "bd_boom", "tabla_na_o",
    "elec_filt_snare",
    "drum_tom_lo_hard", "tabla_na", "misc_burp", "elec_blup", "drum_tom_hi_soft", "bass_dnb_f",
]
ASTERISK_WAV = ["tt-monkeys", "vm-review", "dir-instr", "vm-newuser", "tt-weasels", "hello-world"]
ASTERISK_FLAC = [
    "screen-callee-options", "vm-options", "demo-abouttotry",
    "demo-moreinfo", "vm-msginstruct", "dir-intro", "vm-opts-full", "demo-nogo", "tt-allbusy",
    "queue-periodic-announce", "vm-instructions", "vm-record-prepend", "demo-enterkeywords",
    "vm-tempgreeting2", "conf-getpin", "vm-intro", "agent-pass", "auth-thankyou",
]


def main(root: Path) -> None:
    samples = root / "usr/share/sonic-pi/samples"
    prompts = root / "usr/share/asterisk/sounds/en_US_f_Allison"
    out_music, out_speech = HERE / "sonic-pi", HERE / "asterisk"
    out_music.mkdir(exist_ok=True)
    out_speech.mkdir(exist_ok=True)
    for name in SONIC_PI_OGG:
        data, rate = sf.read(samples / f"{name}.flac")
        sf.write(out_music / f"{name}.ogg", data, rate, format="OGG", subtype="VORBIS")
    for name in SONIC_PI_MP3:
        data, rate = sf.read(samples / f"{name}.flac")
        sf.write(out_music / f"{name}.mp3", data, rate, format="MP3", subtype="MPEG_LAYER_III")
    for name in SONIC_PI_FLAC:
        (out_music / f"{name}.flac").write_bytes((samples / f"{name}.flac").read_bytes())
    for name in ASTERISK_WAV:
        (out_speech / f"{name}.wav").write_bytes((prompts / f"{name}.wav").read_bytes())
    for name in ASTERISK_FLAC:
        data, rate = sf.read(prompts / f"{name}.wav", dtype="int16")
        sf.write(out_speech / f"{name}.flac", data, rate, format="FLAC", subtype="PCM_16")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
