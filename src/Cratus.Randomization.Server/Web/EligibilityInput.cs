using System.Globalization;
using Cratus.Randomization.Domain;

namespace Cratus.Randomization.Server.Web;

/// <summary>
/// The eligibility form as the person fills it in, turned into the request the use cases take exactly as the gRPC door
/// builds it (<c>ProtoMapping.ToIntake</c>): a missing or malformed value becomes null, which the domain reports at its
/// field. No eligibility rule is applied here.
/// </summary>
public sealed class EligibilityInput
{
    public string? SiteCode { get; set; }
    public string? ScreeningId { get; set; }
    /// <summary>yyyy-MM-dd, as a date input gives it.</summary>
    public string? ConsentDate { get; set; }
    /// <summary>Whether the age is given in years at consent rather than as a date of birth.</summary>
    public bool AgeInYears { get; set; }
    public string? DateOfBirth { get; set; }
    public int? AgeAtConsentYears { get; set; }
    public Sex? Sex { get; set; }
    public int? ClinicalFrailtyScale { get; set; }
    public int? MmseScore { get; set; }
    /// <summary>Each exclusion criterion's answer by code; null while unanswered (then it is not sent, and the domain asks for it).</summary>
    public Dictionary<string, bool?> Exclusions { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// A refusal as the top of the form shows it: its message, which names every failed criterion once; the fields'
    /// own messages are shown at the fields (<see cref="Components.Shared.EligibilityForm"/>), not repeated here.
    /// </summary>
    public static Refusal? Summary(Refusal? refusal) => refusal is { Fields.Count: > 0 } ? refusal with { Fields = null, Preconditions = null } : refusal;

    public IntakeRequest ToIntake(string requestId)
    {
        AgeEvidence? age = AgeInYears
            ? AgeAtConsentYears is { } years ? new AgeEvidence.AgeAtConsent(years) : null
            : Date(DateOfBirth) is { } birth ? new AgeEvidence.DateOfBirth(birth) : null;
        var attestations = Exclusions.Where(e => e.Value is not null).ToDictionary(e => e.Key, e => e.Value!.Value, StringComparer.Ordinal);
        var data = new EligibilityData(Date(ConsentDate), age, Sex, ClinicalFrailtyScale, MmseScore, attestations);
        return new IntakeRequest(requestId, SiteCode?.Trim() ?? "", ScreeningId?.Trim() ?? "", data);
    }

    // The same range the gRPC door accepts for a calendar date (ProtoMapping.ToDate).
    private static DateOnly? Date(string? text) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date) && date.Year is >= 1900 and <= 2200
            ? date : null;
}
