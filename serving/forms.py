from django import forms

from serving.models import ServingSettings


class ServiceTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'support bot'.")


class ServingSettingsForm(forms.ModelForm):
    class Meta:
        model = ServingSettings
        fields = ["confidence_threshold", "ood_threshold", "ood_action", "audit_share", "top_k"]
        labels = {
            "ood_threshold": "Unknown-word threshold",
            "ood_action": "Above it",
            "top_k": "Labels listed per answer (top k)",
        }
