"""Built-in demo: small models on scikit-learn's bundled data sets."""

from shakeout.demo.models import (Trained, breast_cancer_gbm, digits_cnn, digits_images,
                                  noisy_digits_cnn)

__all__ = ["Trained", "breast_cancer_gbm", "digits_cnn", "digits_images", "noisy_digits_cnn"]
