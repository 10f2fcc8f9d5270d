from django import forms


class PromotionToleranceForm(forms.Form):
    promotion_tolerance = forms.FloatField(
        min_value=0.0,
        max_value=1.0,
        help_text="How much lower (macro-F1, 0 to 1) a new model may score than the active one "
        "and still replace it.",
    )


class TopKForm(forms.Form):
    k = forms.IntegerField(min_value=1, max_value=50, required=False)

    def clean_k(self) -> int:
        return self.cleaned_data["k"] or 10
