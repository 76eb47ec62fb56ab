"""GuidingPainter asks about every drawn area (the product's questions), on a drawn face."""

import cv2
import numpy as np

from tinct.colorizer import Colorizer


def face(size=256, thickness=3):
    """uint8 line art, 255 = paper: a face (head, two eyes with pupils, nose, mouth), hair, a
    neck and a shirt with a collar: 12 drawn areas and the paper around them."""
    canvas = np.full((size, size), 255, np.uint8)
    cv2.ellipse(canvas, (128, 100), (60, 70), 0, 0, 360, 0, thickness)  # head
    cv2.ellipse(canvas, (128, 60), (62, 40), 0, 180, 360, 0, thickness)  # hair cap over the head
    cv2.line(canvas, (66, 60), (190, 60), 0, thickness)
    for x in (105, 151):
        cv2.ellipse(canvas, (x, 95), (14, 9), 0, 0, 360, 0, thickness)  # eyes
        cv2.circle(canvas, (x, 95), 4, 0, -1)  # pupils (solid ink)
    cv2.polylines(canvas, [np.array([(128, 105), (120, 128), (136, 128)])], True, 0, thickness)  # nose
    cv2.ellipse(canvas, (128, 145), (22, 9), 0, 0, 360, 0, thickness)  # mouth
    cv2.rectangle(canvas, (112, 168), (144, 190), 0, thickness)  # neck
    cv2.rectangle(canvas, (60, 190), (196, 250), 0, thickness)  # shirt
    cv2.polylines(canvas, [np.array([(112, 190), (128, 212), (144, 190)])], False, 0, thickness)  # collar
    cv2.line(canvas, (128, 212), (128, 250), 0, thickness)  # buttons' placket
    return canvas


def test_guiding_painter_asks_about_every_drawn_area():
    colorizer = Colorizer.from_pretrained("guiding_painter")
    sketch = face()
    prepared = colorizer.prepare(sketch)
    labels, background = prepared.regions, prepared.background
    area = np.bincount(labels.ravel())
    least = np.ceil(colorizer.min_question * labels.size)
    drawn = {label for label in range(1, area.size) if area[label] >= least and not background[label]}
    assert len(drawn) >= 10  # the regions see the face's areas
    asked_alone = {int(question[0]) for question in prepared.questions}  # on its own, or as a question's largest
    assert drawn <= asked_alone, f"never asked about on their own: {sorted(drawn - asked_alone)}"
    assert len(prepared.questions) >= len(drawn)
    # the numbering is the one --colors and hint files use: colour i goes to question i
    colors = ["#ff0000" if i == 3 else None for i in range(len(prepared.questions))]
    result = colorizer.colorize(prepared, regions_colors=colors)
    third = np.isin(labels, prepared.questions[3])
    for later in prepared.questions[4:]:
        third &= ~np.isin(labels, later)
    assert third.any() and (result.flat[:, third].T == result.flat.new_tensor([1.0, 0.0, 0.0])).all()
    assert not result.warnings
