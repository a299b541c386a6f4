using System.CommandLine;
using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Grpc.Core;

namespace Cratus.Cli;

/// <summary>`cratus randomize`: the site's bedside call. Retries a busy server with the same request id.</summary>
public static class RandomizeCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var site = new Option<string>("--site") { Description = "Site code", Required = true };
        var screening = new Option<string>("--screening-id") { Description = "The site's screening identifier", Required = true };
        var consent = new Option<string>("--consent-date") { Description = "Date informed consent was signed (YYYY-MM-DD)", Required = true };
        var birth = new Option<string?>("--date-of-birth") { Description = "YYYY-MM-DD (or give --age)" };
        var age = new Option<int?>("--age") { Description = "Age in years at consent (or give --date-of-birth)" };
        var sex = new Option<string>("--sex") { Description = "female or male", Required = true };
        sex.AcceptOnlyFromAmong("female", "male");
        var cfs = new Option<int>("--cfs") { Description = "Clinical Frailty Scale score (1-9)", Required = true };
        var mmse = new Option<int>("--mmse") { Description = "MMSE score (0-30)", Required = true };
        var exclusions = new Option<string>("--exclusions")
        {
            Description = "Exclusion criteria that apply, comma-separated codes (see 'cratus trial'), or 'none' to attest that none applies",
            Required = true,
        };
        var requestId = new Option<string?>("--request-id") { Description = "Reuse to retry a randomization safely (default: a new UUID)" };

        var command = new Command("randomize", "Check eligibility and randomize a participant (site coordinators and investigators).")
        {
            site, screening, consent, birth, age, sex, cfs, mmse, exclusions, requestId,
        };
        command.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var channel = s.Channel();
            var eligibility = new EligibilityData
            {
                ConsentDate = Date(p.GetValue(consent)!, "--consent-date"),
                Sex = p.GetValue(sex) == "female" ? Sex.Female : Sex.Male,
                ClinicalFrailtyScale = p.GetValue(cfs),
                MmseScore = p.GetValue(mmse),
            };
            switch (p.GetValue(birth), p.GetValue(age))
            {
                case ({ } dob, null): eligibility.DateOfBirth = Date(dob, "--date-of-birth"); break;
                case (null, { } years): eligibility.AgeAtConsentYears = years; break;
                default: throw new CliException("give exactly one of --date-of-birth and --age");
            }
            // Every criterion of the trial is answered: the ones named apply, the rest are attested not to.
            var criteria = (await new TrialService.TrialServiceClient(channel).GetTrialAsync(new GetTrialRequest(), cancellationToken: ct)).Eligibility.ExclusionCriteria;
            var applying = p.GetValue(exclusions)!.Trim() is "none" ? [] : p.GetValue(exclusions)!.Split(',').Select(c => c.Trim()).ToHashSet();
            var unknown = applying.Where(code => criteria.All(c => c.Code != code)).ToList();
            if (unknown.Count > 0) throw new CliException($"unknown exclusion criteria: {string.Join(", ", unknown)} (see 'cratus trial')");
            eligibility.ExclusionAttestations.AddRange(criteria.Select(c => new ExclusionAttestation { CriterionCode = c.Code, Applies = applying.Contains(c.Code) }));

            var request = new RandomizeRequest
            {
                RequestId = p.GetValue(requestId) ?? Guid.NewGuid().ToString(),
                SiteCode = p.GetValue(site)!,
                ScreeningId = p.GetValue(screening)!,
                Eligibility = eligibility,
            };
            var client = new RandomizationService.RandomizationServiceClient(channel);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var reply = await client.RandomizeAsync(request, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: ct);
                    s.Print(reply, [.. Rows(reply.Assignment), ("Request id", request.RequestId)]);
                    return;
                }
                catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && attempt < 3)
                {
                    await Task.Delay(TimeSpan.FromSeconds(attempt), ct);
                }
            }
        });
        return command;
    }

    public static IReadOnlyList<(string, string)> Rows(BlindedAssignment a) =>
    [
        ("Participant", a.ParticipantId),
        ("Site", a.SiteCode),
        ("Screening id", a.ScreeningId),
        ("Randomization number", a.RandomizationNumber),
        ("Product code", a.ProductCode),
        ("Randomized at (UTC)", a.RandomizedAt.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture)),
    ];

    private static CalendarDate Date(string text, string option) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)
            ? new CalendarDate { Year = d.Year, Month = d.Month, Day = d.Day }
            : throw new CliException($"{option} must be a date written YYYY-MM-DD");
}
