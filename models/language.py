"""The languages people read: bokmål, nynorsk and English."""

from enum import StrEnum


class Language(StrEnum):
    NB = "nb"
    NN = "nn"
    EN = "en"
