"""A choice is listed once (STYLE.md): the languages (constants.LANGUAGES and its one checker, constants.language_of,
used by plots.words, the widget and datasets.class_names_in), the backgrounds (config.BACKGROUNDS, which datasets
imports) and the strip heights a side allows (models.strip_heights, used by config's and plots' messages)."""
import numpy as np
import pytest
import torch

import rowrnn
from rowrnn import config, constants, datasets, models, plots, widget
from rowrnn.config import ModelConfig
from rowrnn.errors import RowrnnError

IMAGE = (np.arange(28 * 28).reshape(28, 28) % 251).astype(np.uint8)
CHECKERS = {"plots.words": lambda language: plots.words(language),
            "widget._language": lambda language: widget._language(language),
            "datasets.class_names_in": lambda language: datasets.class_names_in(("a", "b"), language)}


def test_the_languages_are_listed_once():
    assert constants.LANGUAGES == ("en", "es")
    assert plots.LANGUAGES is constants.LANGUAGES and widget.LANGUAGES is constants.LANGUAGES
    assert plots.WORDS.keys() == widget.SUMMARY.keys() == set(constants.LANGUAGES)


@pytest.mark.parametrize("given, expected", [("en", "en"), ("es", "es"), ("ES", "es"), (" Es ", "es"),
                                             ("eN\n", "en"), ("fr", None), ("", None), ("e s", None),
                                             (None, None), (3, None), (b"es", None), (["es"], None)])
def test_the_one_checker_normalises_or_says_none(given, expected):
    assert constants.language_of(given) == expected


@pytest.mark.parametrize("name", CHECKERS)
@pytest.mark.parametrize("given", ["fr", "", "english", None, 3])
def test_every_reader_of_a_language_refuses_it_in_the_same_words(name, given):
    with pytest.raises(RowrnnError) as refusal:
        CHECKERS[name](given)
    assert str(refusal.value) == f"language must be one of en, es, got {given!r}"


@pytest.mark.parametrize("name", CHECKERS)
def test_every_reader_of_a_language_takes_any_case(name):
    assert CHECKERS[name](" ES ") == CHECKERS[name]("es")


def test_the_widgets_language_set_after_it_is_shown_is_normalised():
    torch.manual_seed(0)
    view = rowrnn.show_reading(models.build_model(ModelConfig(cell="gru", hidden_size=4)), IMAGE)
    view.language = "ES"
    assert view.language == "es" and view.summary().startswith("lectura de rowrnn de una imagen en el paso 28 de 28")
    view.set_state({"language": " En "})              # as widget.js sends it
    assert view.language == "en" and view.summary().startswith("rowrnn reading of an image at step 28 of 28")
    with pytest.raises(RowrnnError, match=r"^language must be one of en, es, got 'fr'$"):
        view.language = "fr"
    assert view.language == "en" and view.png()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_backgrounds_are_listed_once():
    assert datasets.BACKGROUNDS is config.BACKGROUNDS and config.BACKGROUNDS == ("dark", "light")


@pytest.mark.parametrize("side, heights", [(28, (1, 2, 4, 7, 14, 28)), (8, (1, 2, 4, 8)), (13, (1, 13)),
                                           (1, (1,)), (12, (1, 2, 3, 4, 6, 12))])
def test_strip_heights_are_the_sides_divisors(side, heights):
    assert models.strip_heights(side) == heights


def test_config_and_plots_name_the_same_heights():
    with pytest.raises(RowrnnError) as refusal:
        ModelConfig(rows_per_step=5).validate(image_size=12)
    assert str(refusal.value) == "--rows-per-step 5 does not divide the image side 12: choose one of 1, 2, 3, 4, 6, 12"
    with pytest.raises(RowrnnError) as refusal:
        plots._step_scores(np.zeros(4), "rows", 5, 12)
    assert str(refusal.value) == "rows_per_step must be one of 1, 2, 3, 4, 6, 12 (the model's), got 5"
