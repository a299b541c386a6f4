using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application;
using Google.Protobuf.WellKnownTypes;
using Proto = Cratus.Randomization.Protos.V1;

namespace Cratus.Randomization.Server.Grpc;

/// <summary>Between wire messages and domain types. Missing or malformed values become nulls the domain reports.</summary>
internal static class ProtoMapping
{
    /// <summary>What a site sends to enrol or randomize, as the use cases take it.</summary>
    public static IntakeRequest ToIntake(string requestId, string siteCode, string screeningId, Proto.EligibilityData? eligibility) =>
        new(requestId, siteCode, screeningId, eligibility.ToDomain());

    public static EligibilityData ToDomain(this Proto.EligibilityData? data)
    {
        if (data is null) return new EligibilityData(null, null, null, null, null, new Dictionary<string, bool>());
        AgeEvidence? age = data.AgeCase switch
        {
            Proto.EligibilityData.AgeOneofCase.DateOfBirth when ToDate(data.DateOfBirth) is { } birth => new AgeEvidence.DateOfBirth(birth),
            Proto.EligibilityData.AgeOneofCase.AgeAtConsentYears => new AgeEvidence.AgeAtConsent(data.AgeAtConsentYears),
            _ => null,
        };
        Sex? sex = data.Sex switch
        {
            Proto.Sex.Female => Sex.Female,
            Proto.Sex.Male => Sex.Male,
            _ => null,
        };
        var attestations = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var a in data.ExclusionAttestations)
        {
            // A criterion answered twice counts as applying if either answer says so.
            attestations[a.CriterionCode] = a.Applies || attestations.GetValueOrDefault(a.CriterionCode);
        }
        return new EligibilityData(
            ToDate(data.ConsentDate),
            age,
            sex,
            data.HasClinicalFrailtyScale ? data.ClinicalFrailtyScale : null,
            data.HasMmseScore ? data.MmseScore : null,
            attestations);
    }

    public static DateOnly? ToDate(Proto.CalendarDate? date)
    {
        if (date is null || date.Year is < 1900 or > 2200 || date.Month is < 1 or > 12) return null;
        if (date.Day < 1 || date.Day > DateTime.DaysInMonth(date.Year, date.Month)) return null;
        return new DateOnly(date.Year, date.Month, date.Day);
    }

    // The range google.protobuf.Timestamp allows: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
    private const long MinTimestampSeconds = -62_135_596_800;
    private const long MaxTimestampSeconds = 253_402_300_799;

    /// <summary>
    /// A request's time as the use case reads it: absent, a time, or out of range (outside what a Timestamp may hold, or
    /// with nanoseconds outside 0 to 999,999,999), which the use case refuses as INVALID_ARGUMENT naming the field.
    /// </summary>
    public static TimeInput ToInput(this Timestamp? time) =>
        time is null ? TimeInput.Absent
        : time.Seconds is < MinTimestampSeconds or > MaxTimestampSeconds || time.Nanos is < 0 or > 999_999_999 ? new TimeInput(null, true)
        : TimeInput.Of(time.ToDateTimeOffset());

    public static Proto.BlindedAssignment ToProto(this BlindedAssignment a) => new()
    {
        ParticipantId = a.ParticipantId,
        SiteCode = a.SiteCode,
        ScreeningId = a.ScreeningId,
        RandomizationNumber = a.RandomizationNumber,
        ProductCode = a.ProductCode,
        RandomizedAt = Timestamp.FromDateTimeOffset(a.RandomizedAt),
        EmergencyUnblinded = a.EmergencyUnblinded,
    };

    public static Proto.ArmTreatment ToProto(this ArmDefinition arm) => new()
    {
        ArmCode = arm.Code,
        Treatment = arm.Treatment,
        CellCount = arm.CellCount,
        Placebo = arm.Placebo,
    };

    public static Timestamp? ToProto(this DateTimeOffset? time) => time is { } t ? Timestamp.FromDateTimeOffset(t) : null;
}
