"""How a static site converts a person's picture (site.picture_options, in the manifest as "picture"): the options
web/convert.js takes so that the page converts an upload, photo or drawing as rowrnn serve does for the same run
(datasets.prepare_picture with the dataset's own fit). Fast: no browser, no training."""
import pytest

from rowrnn.datasets import DatasetInfo, dataset_of
from rowrnn.site import dataset_facts, picture_options

DIGITS = tuple("0123456789")


@pytest.mark.parametrize("info, options", [
    (dataset_of("fashion-mnist"), {"conversion": "photo", "fit": "trim", "size": 28}),
    (dataset_of("mnist"), {"conversion": "photo", "fit": "none", "size": 28}),
    (DatasetInfo("my-digits", DIGITS, image_size=8, conversion="plain"), {"conversion": "plain", "size": 8}),
    (DatasetInfo("my-digits", DIGITS, image_size=14, conversion="plain"), {"conversion": "plain", "size": 14}),
    (DatasetInfo("my-digits", DIGITS, image_size=28, conversion="plain"), {"conversion": "plain", "size": 28}),
    (DatasetInfo("my-shirts", DIGITS, image_size=28, conversion="photo"),
     {"conversion": "photo", "fit": "trim", "size": 28}),
], ids=["fashion-mnist", "mnist", "plain-8", "plain-14", "plain-28", "photo-folder"])
def test_a_sites_pictures_are_converted_as_serve_converts_them(info, options):
    assert picture_options(info) == options


def test_the_facts_of_a_run_carry_its_picture_options():
    facts = dataset_facts({"data": {"dataset": "mnist"}})
    assert facts["picture"] == {"conversion": "photo", "fit": "none", "size": 28}
    assert facts["image_size"] == 28 and facts["classes"] == list(DIGITS)
