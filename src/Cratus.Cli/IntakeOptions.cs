using System.CommandLine;
using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Grpc.Core;

namespace Cratus.Cli;

/// <summary>The screening data options shared by `randomize` and `enrol`.</summary>
public sealed class IntakeOptions
{
    private readonly Option<string> _site = new("--site") { Description = "Site code", Required = true };
    private readonly Option<string> _screening = new("--screening-id") { Description = "The site's screening identifier", Required = true };
    private readonly Option<string> _consent = new("--consent-date") { Description = "Date informed consent was signed (YYYY-MM-DD)", Required = true };
    private readonly Option<string?> _birth = new("--date-of-birth") { Description = "YYYY-MM-DD (or give --age)" };
    private readonly Option<int?> _age = new("--age") { Description = "Age in years at consent (or give --date-of-birth)" };
    private readonly Option<string> _sex = new("--sex") { Description = "female or male", Required = true };
    private readonly Option<int> _cfs = new("--cfs") { Description = "Clinical Frailty Scale score (1-9)", Required = true };
    private readonly Option<int> _mmse = new("--mmse") { Description = "MMSE score (0-30)", Required = true };
    private readonly Option<string> _exclusions = new("--exclusions")
    {
        Description = "Exclusion criteria that apply, comma-separated codes (see 'cratus trial'), or 'none' to attest that none applies",
        Required = true,
    };

    public static IntakeOptions AddTo(Command command)
    {
        var o = new IntakeOptions();
        o._sex.AcceptOnlyFromAmong("female", "male");
        foreach (var option in new Option[] { o._site, o._screening, o._consent, o._birth, o._age, o._sex, o._cfs, o._mmse, o._exclusions })
            command.Options.Add(option);
        return o;
    }

    /// <summary>The request id, site, screening id and eligibility data; every exclusion criterion of the trial is answered.</summary>
    public async Task<(string RequestId, string Site, string ScreeningId, EligibilityData Eligibility)> ReadAsync(ParseResult p, CliSession session, CallInvoker channel, CancellationToken ct)
    {
        var eligibility = new EligibilityData
        {
            ConsentDate = Date(p.GetValue(_consent)!, "--consent-date"),
            Sex = p.GetValue(_sex) == "female" ? Sex.Female : Sex.Male,
            ClinicalFrailtyScale = p.GetValue(_cfs),
            MmseScore = p.GetValue(_mmse),
        };
        switch (p.GetValue(_birth), p.GetValue(_age))
        {
            case ({ } dob, null): eligibility.DateOfBirth = Date(dob, "--date-of-birth"); break;
            case (null, { } years): eligibility.AgeAtConsentYears = years; break;
            default: throw new CliException("give exactly one of --date-of-birth and --age");
        }
        // The named criteria apply; every other criterion of the trial is attested not to.
        var criteria = (await new TrialService.TrialServiceClient(channel).GetTrialAsync(new GetTrialRequest(), cancellationToken: ct)).Eligibility.ExclusionCriteria;
        var applying = p.GetValue(_exclusions)!.Trim() is "none" ? [] : p.GetValue(_exclusions)!.Split(',').Select(c => c.Trim()).ToHashSet();
        var unknown = applying.Where(code => criteria.All(c => c.Code != code)).ToList();
        if (unknown.Count > 0) throw new CliException($"unknown exclusion criteria: {string.Join(", ", unknown)} (see 'cratus trial')");
        eligibility.ExclusionAttestations.AddRange(criteria.Select(c => new ExclusionAttestation { CriterionCode = c.Code, Applies = applying.Contains(c.Code) }));
        return (session.RequestId, p.GetValue(_site)!, p.GetValue(_screening)!, eligibility);
    }

    private static CalendarDate Date(string text, string option) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)
            ? new CalendarDate { Year = d.Year, Month = d.Month, Day = d.Day }
            : throw new CliException($"{option} must be a date written YYYY-MM-DD");
}
