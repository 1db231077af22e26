"""Snapping epochs to the stored ones and the shared epoch slider (dashboard.ui.epochs)."""

from __future__ import annotations

import pytest

from dashboard.ui.epochs import choose_epoch, epoch_slider, nearest_epoch, slider_step


@pytest.mark.parametrize(("value", "expected"), [
    (3, 3), (3.1, 3), ("3.1", 3), (3.5, 3), (3.6, 4), ("-2", 0), (99, 15), ("7", 7), (" 7 ", 7),
])
def test_nearest_epoch_snaps_to_a_stored_epoch(value, expected):
    assert nearest_epoch(list(range(16)), value) == expected


@pytest.mark.parametrize("value", [None, "abc", "nan", "inf", "", [1]])
def test_nearest_epoch_refuses_what_is_not_a_number(value):
    assert nearest_epoch(list(range(16)), value) is None
    assert nearest_epoch([], 3) is None


def test_slider_step_is_the_spacing_of_the_stored_epochs():
    assert slider_step(list(range(16))) == 1
    assert slider_step([0, 5, 10, 15]) == 5
    assert slider_step([0, 2, 3]) == 1
    assert slider_step([4]) == 1


def test_the_slider_moves_only_by_whole_epochs():
    slider = epoch_slider("e", list(range(16)), 15, updatemode="drag")
    assert (slider.min, slider.max, slider.step, slider.value, slider.updatemode) == (0, 15, 1, 15, "drag")
    assert slider.allow_direct_input is False
    assert all(isinstance(mark, int) for mark in slider.marks)


def test_choose_epoch_says_when_the_address_asks_for_another():
    epochs = [0, 1, 2]
    assert choose_epoch(None, epochs) == (2, None)
    assert choose_epoch("1", epochs) == (1, None)
    epoch, message = choose_epoch("1.2", epochs)
    assert epoch == 1 and "epoch=1.2 in the address is not a stored epoch (0 to 2): showing epoch 1" in message
    epoch, message = choose_epoch("77", epochs)
    assert epoch == 2 and "showing epoch 2, the nearest" in message
    epoch, message = choose_epoch("abc", epochs)
    assert epoch == 2 and "not a number" in message
