namespace Cratus.Randomization.Domain;

public enum Sex
{
    Female,
    Male,
}

/// <summary>How the participant's age was given: a date of birth, or the age at consent directly.</summary>
public abstract record AgeEvidence
{
    public sealed record DateOfBirth(DateOnly Date) : AgeEvidence;
    public sealed record AgeAtConsent(int Years) : AgeEvidence;
}

/// <summary>
/// Screening data as the site reports it. Structural completeness (every field present) is checked by
/// <see cref="EligibilityCheck.FindMissingData"/>; clinical eligibility by <see cref="EligibilityCheck.Evaluate"/>.
/// </summary>
public sealed record EligibilityData(
    DateOnly? ConsentDate,
    AgeEvidence? Age,
    Sex? Sex,
    int? ClinicalFrailtyScale,
    int? MmseScore,
    IReadOnlyDictionary<string, bool> ExclusionAttestations);

/// <summary>What is kept of an eligible participant's screening: enough to audit the decision, no date of birth.</summary>
public sealed record EligibilitySnapshot(
    DateOnly ConsentDate,
    int AgeAtConsent,
    Sex Sex,
    int ClinicalFrailtyScale,
    int MmseScore);

/// <summary>The one place the trial's eligibility rules are applied.</summary>
public static class EligibilityCheck
{
    /// <summary>Fields that are absent or malformed; each entry names the field and what is wrong.</summary>
    public static IReadOnlyList<string> FindMissingData(EligibilityRules rules, EligibilityData data)
    {
        var missing = new List<string>();
        if (data.ConsentDate is null) missing.Add("consent_date is required");
        if (data.Age is null) missing.Add("date_of_birth or age_at_consent_years is required");
        if (data.Sex is null) missing.Add("sex is required (it is a stratification factor)");
        if (data.ClinicalFrailtyScale is null) missing.Add("clinical_frailty_scale is required");
        else if (data.ClinicalFrailtyScale is < 1 or > 9) missing.Add("clinical_frailty_scale must be 1 to 9");
        if (data.MmseScore is null) missing.Add("mmse_score is required");
        else if (data.MmseScore is < 0 or > 30) missing.Add("mmse_score must be 0 to 30");
        if (data.Age is AgeEvidence.AgeAtConsent { Years: < 0 or > 130 }) missing.Add("age_at_consent_years must be 0 to 130");
        foreach (var code in data.ExclusionAttestations.Keys)
        {
            if (rules.ExclusionAttestations.All(c => c.Code != code)) missing.Add($"exclusion attestation '{code}' is not a criterion of this trial");
        }
        foreach (var criterion in rules.ExclusionAttestations)
        {
            if (!data.ExclusionAttestations.ContainsKey(criterion.Code)) missing.Add($"exclusion attestation '{criterion.Code}' must be answered");
        }
        return missing;
    }

    /// <summary>
    /// Every criterion the participant fails, in plain words; empty when eligible. Requires complete data
    /// (see <see cref="FindMissingData"/>).
    /// </summary>
    public static IReadOnlyList<string> Evaluate(EligibilityRules rules, EligibilityData data, DateOnly today)
    {
        var consent = data.ConsentDate ?? throw new ArgumentException("consent date missing", nameof(data));
        var failures = new List<string>();
        if (consent > today) failures.Add($"informed consent date {consent:yyyy-MM-dd} is in the future");

        var age = AgeAtConsent(data, consent);
        if (age is null) failures.Add("date of birth is after the consent date");
        else if (age < rules.MinimumAge) failures.Add($"age at consent {age} is below the minimum of {rules.MinimumAge}");
        else if (age > rules.MaximumAge) failures.Add($"age at consent {age} is above the maximum of {rules.MaximumAge}");

        var cfs = data.ClinicalFrailtyScale!.Value;
        if (cfs < rules.MinimumFrailtyScore || cfs > rules.MaximumFrailtyScore)
            failures.Add($"Clinical Frailty Scale score {cfs} is outside {rules.MinimumFrailtyScore} to {rules.MaximumFrailtyScore}");

        var mmse = data.MmseScore!.Value;
        if (mmse <= rules.MmseExclusionAtOrBelow)
            failures.Add($"MMSE score {mmse} is at or below the exclusion threshold of {rules.MmseExclusionAtOrBelow}");

        foreach (var criterion in rules.ExclusionAttestations)
        {
            if (data.ExclusionAttestations.TryGetValue(criterion.Code, out var applies) && applies)
                failures.Add($"exclusion criterion applies: {criterion.Description} ({criterion.Code})");
        }
        return failures;
    }

    /// <summary>The snapshot kept for an eligible participant. Call only after <see cref="Evaluate"/> found no failure.</summary>
    public static EligibilitySnapshot Snapshot(EligibilityData data)
    {
        var consent = data.ConsentDate!.Value;
        return new EligibilitySnapshot(consent, AgeAtConsent(data, consent)!.Value, data.Sex!.Value,
            data.ClinicalFrailtyScale!.Value, data.MmseScore!.Value);
    }

    private static int? AgeAtConsent(EligibilityData data, DateOnly consent) => data.Age switch
    {
        AgeEvidence.AgeAtConsent given => given.Years,
        AgeEvidence.DateOfBirth { Date: var birth } when birth > consent => null,
        AgeEvidence.DateOfBirth { Date: var birth } =>
            consent.Year - birth.Year - (consent < birth.AddYears(consent.Year - birth.Year) ? 1 : 0),
        _ => throw new ArgumentException("age missing", nameof(data)),
    };
}
