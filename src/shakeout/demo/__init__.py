"""Built-in demo: small models on scikit-learn's bundled data sets."""

from shakeout.demo.models import Trained, breast_cancer_gbm, digits_cnn, digits_images

__all__ = ["Trained", "breast_cancer_gbm", "digits_cnn", "digits_images"]
