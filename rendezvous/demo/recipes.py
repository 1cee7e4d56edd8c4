"""Training recipes of the demo: factories of unfitted scikit-learn pipelines.

Both take the enriched batch as it is (ids, timestamps and other extra columns included):
the first step keeps the model's features, so ``feature_names_in_`` after fit names exactly
the columns the model needs, and scoring may pass either the whole frame or just those.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from rendezvous.demo.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES


class SelectColumns(TransformerMixin, BaseEstimator):
    """Keep the model's columns of a DataFrame, typed as in training, and ignore the rest.

    A ColumnTransformer alone would remember every column seen in fit (request ids
    included) as ``feature_names_in_``. Numeric columns are cast to float, so a column read
    as text (``"1200.5"``) scores like a number, while a real text value fails loudly
    instead of being scored as missing: removing such rows is validation's job.
    """

    def __init__(self, numeric: list[str], categorical: list[str]) -> None:
        self.numeric = numeric
        self.categorical = categorical

    def fit(self, X: pd.DataFrame, y: object = None) -> SelectColumns:
        columns = [*self.numeric, *self.categorical]
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise ValueError(f"columns missing from the training data: {missing}")
        self.feature_names_in_ = np.asarray(columns, dtype=object)
        self.n_features_in_ = len(columns)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        types = {c: "float64" for c in self.numeric} | {c: "str" for c in self.categorical}
        return X[list(self.feature_names_in_)].astype(types)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


def _inputs() -> SelectColumns:
    return SelectColumns(list(NUMERIC_FEATURES), list(CATEGORICAL_FEATURES))


def default_pipeline() -> Pipeline:
    """The candidate recipe: gradient boosting on the raw features.

    No imputer or encoder in front: the trees learn where missing values go (better than a
    median) and split natively on the text categories (unknown ones count as missing),
    which also avoids encoding every category twice at scoring time.
    """
    model = HistGradientBoostingClassifier(
        learning_rate=0.2,
        max_iter=200,
        max_leaf_nodes=15,
        categorical_features=list(CATEGORICAL_FEATURES),
        early_stopping=True,
        random_state=0,
    )
    return Pipeline([("select", _inputs()), ("model", model)])


def canary_pipeline() -> Pipeline:
    """The stable comparison model: a scaled, one-hot logistic regression.

    Deliberately another model family than the live one, so that their disagreement
    shows drift that a single family would absorb.
    """
    prepare = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                list(NUMERIC_FEATURES),
            ),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL_FEATURES)),
        ],
    )
    return Pipeline(
        [("select", _inputs()), ("prepare", prepare), ("model", LogisticRegression(max_iter=1000))]
    )
