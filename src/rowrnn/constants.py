"""Facts about the data every module shares, defined once (timm's data/constants.py habit).

    from rowrnn.constants import CLASSES, IMAGE_SIZE
    CLASSES[9]          # 'Ankle boot'
    IMAGE_SIZE ** 2     # 784 pixels, read as 28 rows of 28
"""
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
NUM_CLASSES = len(CLASSES)
IMAGE_SIZE = 28
MEAN, STD = 0.5, 0.5  # the notebook's Normalize((0.5,), (0.5,)): x in [0, 1] -> (x - MEAN) / STD in [-1, 1]
