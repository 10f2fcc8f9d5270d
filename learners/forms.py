from django import forms

from siftml.promotion_rule import describe_promotion_rule


class PromotionToleranceForm(forms.Form):
    promotion_tolerance = forms.FloatField(
        min_value=0.0,
        max_value=1.0,
        help_text=describe_promotion_rule(),
    )


class TopKForm(forms.Form):
    k = forms.IntegerField(min_value=1, max_value=50, required=False)

    def clean_k(self) -> int:
        return self.cleaned_data["k"] or 10
