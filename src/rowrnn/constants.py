"""Facts about the data every module shares, defined once (timm's data/constants.py habit).

    from rowrnn.constants import CLASSES, IMAGE_SIZE
    CLASSES[9]          # 'Ankle boot'
    IMAGE_SIZE ** 2     # 784 pixels, read as 28 rows of 28
    language_of(" ES ")  # 'es'; None for a language not in LANGUAGES
"""
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
NUM_CLASSES = len(CLASSES)
IMAGE_SIZE = 28
MEAN, STD = 0.5, 0.5  # the notebook's Normalize((0.5,), (0.5,)): x in [0, 1] -> (x - MEAN) / STD in [-1, 1]
LANGUAGES = ("en", "es")  # every word a figure, the widget or the page says, once in each (web/i18n.js's too)


def language_of(language) -> str | None:
    """language as LANGUAGES spells it: "en" or "es" in any case, spaces around ignored (" ES " -> "es"); None
    for anything else (another language, not a str). The one checker of a language: its callers refuse None
    with language_refusal(language), as a RowrnnError naming language."""
    if not isinstance(language, str) or language.strip().lower() not in LANGUAGES:
        return None
    return language.strip().lower()


def language_refusal(language) -> str:
    """The one line that refuses a language language_of does not know: "language must be one of en, es, got 'fr'"."""
    return f"language must be one of {', '.join(LANGUAGES)}, got {language!r}"
