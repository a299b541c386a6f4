using System.CommandLine;
using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Google.Protobuf.WellKnownTypes;

namespace Cratus.Cli;

/// <summary>
/// The participants of both phases (ParticipantService): the listing, one record, infusions, safety events,
/// withdrawals and marking a participant randomized in error. Never shows an arm.
/// </summary>
public static class ParticipantCommands
{
    public static IEnumerable<Command> Create(Func<ParseResult, CliSession> session, Signing signing)
    {
        var reason = new Option<string>("--reason") { Description = "Why (required; recorded in the audit trail)", Required = true };
        var participant = new Argument<string>("participant-id") { Description = "The participant" };

        var siteFilter = new Option<string?>("--site") { Description = "Only this site's participants" };
        var phaseFilter = new Option<string?>("--phase") { Description = "Only this phase: dose-escalation or randomized" };
        phaseFilter.AcceptOnlyFromAmong("dose-escalation", "randomized");
        var statusFilter = new Option<string?>("--status") { Description = "Only this status: enrolled, randomized, infused or withdrawn" };
        statusFilter.AcceptOnlyFromAmong("enrolled", "randomized", "infused", "withdrawn");
        var pageSize = new Option<int>("--page-size") { Description = "Participants per page (1 to 100)", DefaultValueFactory = _ => 25 };
        var pageToken = new Option<string?>("--page") { Description = "The next page token printed by the previous page" };
        var list = new Command("participants", "List participants (both phases, blinded), newest first, with their flags.") { siteFilter, phaseFilter, statusFilter, pageSize, pageToken };
        list.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new ParticipantService.ParticipantServiceClient(s.Channel()).ListParticipantsAsync(new ListParticipantsRequest
            {
                SiteCode = p.GetValue(siteFilter) ?? "",
                Phase = p.GetValue(phaseFilter) switch { "dose-escalation" => TrialPhase.DoseEscalation, "randomized" => TrialPhase.Randomized, _ => TrialPhase.Unspecified },
                Status = p.GetValue(statusFilter) switch
                {
                    "enrolled" => ParticipantStatus.Enrolled,
                    "randomized" => ParticipantStatus.Randomized,
                    "infused" => ParticipantStatus.Infused,
                    "withdrawn" => ParticipantStatus.Withdrawn,
                    _ => ParticipantStatus.Unspecified,
                },
                PageSize = p.GetValue(pageSize),
                PageToken = p.GetValue(pageToken) ?? "",
            }, cancellationToken: ct);
            s.PrintTable(reply, ["PARTICIPANT", "SITE", "SCREENING", "PHASE", "NUMBER/COHORT", "STATUS", "FLAGS"],
                reply.Participants.Select(x => (IReadOnlyList<string>)[
                    x.ParticipantId, x.SiteCode, x.ScreeningId, x.Phase == TrialPhase.Randomized ? "II" : "I",
                    x.Phase == TrialPhase.Randomized ? x.RandomizationNumber : $"cohort {x.Cohort.ToString(CultureInfo.InvariantCulture)}",
                    Words(x.Status), Flags(x)]).ToList());
            s.Note($"{reply.TotalSize.ToString(CultureInfo.InvariantCulture)} participants{(reply.NextPageToken.Length > 0 ? $"; next page: --page {reply.NextPageToken}" : "")}");
        });

        var get = new Command("participant", "One participant's record (blinded), with its flags and any randomized-in-error mark.") { participant };
        get.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new ParticipantService.ParticipantServiceClient(s.Channel()).GetParticipantAsync(
                new GetParticipantRequest { ParticipantId = p.GetValue(participant)! }, cancellationToken: ct);
            PrintRecord(s, reply, reply.Participant);
        });

        var at = new Option<string?>("--at") { Description = "When the infusion was given, ISO 8601 with offset (default: now on the trial clock)" };
        var infusion = new Command("infusion", "Record that a participant (either phase) was infused (starts the safety window).") { participant, at };
        infusion.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var when = p.GetValue(at) is { } text
                ? DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed) ? parsed : throw new CliException("--at must be a date and time such as 2026-11-22T09:30:00-05:00")
                // The server's trial time (the real time in production; a rehearsal's moved clock in UAT and training).
                : (await new RehearsalService.RehearsalServiceClient(s.Channel()).GetTrialClockAsync(new GetTrialClockRequest(), cancellationToken: ct)).Clock.TrialTime.ToDateTimeOffset();
            var reply = await new ParticipantService.ParticipantServiceClient(s.Channel()).RecordInfusionAsync(new RecordInfusionRequest
            {
                ParticipantId = p.GetValue(participant)!, InfusedAt = Timestamp.FromDateTimeOffset(when),
            }, cancellationToken: ct);
            s.Print(reply, [("Participant", reply.ParticipantId), ("Infused at (UTC)", UnblindingCommands.Time(reply.InfusedAt)), ("Safety window closes (UTC)", UnblindingCommands.Time(reply.SafetyWindowClosesAt))]);
        });

        var type = new Option<string>("--type") { Description = "death, pulmonary-embolism, stroke, dyspnea-hospitalization, lab-abnormality or other", Required = true };
        type.AcceptOnlyFromAmong("death", "pulmonary-embolism", "stroke", "dyspnea-hospitalization", "lab-abnormality", "other");
        var onset = new Option<string>("--onset") { Description = "Onset date (YYYY-MM-DD)", Required = true };
        var notSerious = new Option<bool>("--not-serious") { Description = "The event is not serious" };
        var safety = new Command("safety-event", "Report a serious adverse event for a participant (either phase).") { participant, type, onset, notSerious };
        safety.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var date = DateOnly.TryParseExact(p.GetValue(onset), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)
                ? d : throw new CliException("--onset must be a date written YYYY-MM-DD");
            var reply = await new ParticipantService.ParticipantServiceClient(s.Channel()).ReportSafetyEventAsync(new ReportSafetyEventRequest
            {
                ParticipantId = p.GetValue(participant)!,
                Type = p.GetValue(type) switch
                {
                    "death" => SafetyEventType.Death,
                    "pulmonary-embolism" => SafetyEventType.NonFatalPulmonaryEmbolism,
                    "stroke" => SafetyEventType.Stroke,
                    "dyspnea-hospitalization" => SafetyEventType.HospitalizationForWorseningDyspnea,
                    "lab-abnormality" => SafetyEventType.ClinicallySignificantLaboratoryAbnormality,
                    _ => SafetyEventType.OtherSeriousAdverseEvent,
                },
                OnsetDate = new CalendarDate { Year = date.Year, Month = date.Month, Day = date.Day },
                Serious = !p.GetValue(notSerious),
            }, cancellationToken: ct);
            s.Print(reply, [("Treatment-emergent", reply.TreatmentEmergent ? "yes" : "no"), ("Enrolment on hold", reply.EnrolmentOnHold ? "yes" : "no"), ("Next", reply.Message)]);
        });

        var withdraw = new Command("withdraw", "Record that a participant (either phase) withdrew. Phase I, before infusion: the cohort place is freed; Phase II: the allocation is kept.") { participant, reason };
        withdraw.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new ParticipantService.ParticipantServiceClient(s.Channel()).RecordWithdrawalAsync(
                new RecordWithdrawalRequest { ParticipantId = p.GetValue(participant)!, Reason = p.GetValue(reason)! }, cancellationToken: ct);
            s.Print(reply, [("Place or allocation", reply.PlaceFreed ? "cohort place freed for a replacement" : "kept (infused, a Phase II allocation, or no replacement in this trial)")]);
        });

        var errorType = new Option<string>("--type") { Description = "ineligible or wrong-stratum", Required = true };
        errorType.AcceptOnlyFromAmong("ineligible", "wrong-stratum");
        var correctSex = new Option<string?>("--correct-sex") { Description = "Wrong stratum: the participant's true sex (female or male)" };
        correctSex.AcceptOnlyFromAmong("female", "male");
        var correctSite = new Option<string?>("--correct-site") { Description = "Wrong stratum: the site the participant truly belongs to" };
        var mark = new Command("mark-randomized-in-error",
            "Mark one of your site's Phase II participants randomized in error (investigators; signed). The participant keeps the allocation and stays in the analysis.")
            { participant, errorType, correctSex, correctSite, reason, signing.Meaning };
        mark.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var participantId = p.GetValue(participant)!;
            var signature = await signing.SignAsync(s, p, SignedAction.RandomizedInError, participantId, ct);
            var reply = await new ParticipantService.ParticipantServiceClient(s.Channel()).MarkRandomizedInErrorAsync(new MarkRandomizedInErrorRequest
            {
                ParticipantId = participantId,
                Type = p.GetValue(errorType) == "ineligible" ? RandomizedInErrorType.Ineligible : RandomizedInErrorType.WrongStratum,
                CorrectSex = p.GetValue(correctSex) switch { "female" => Sex.Female, "male" => Sex.Male, _ => Sex.Unspecified },
                CorrectSiteCode = p.GetValue(correctSite) ?? "",
                Reason = p.GetValue(reason)!,
                Signature = signature,
            }, cancellationToken: ct);
            PrintRecord(s, reply, reply.Participant);
        });

        var phaseOfEvents = new Option<string?>("--phase") { Description = "Only this phase: dose-escalation or randomized" };
        phaseOfEvents.AcceptOnlyFromAmong("dose-escalation", "randomized");
        var events = new Command("safety-events", "Every serious adverse event reported, both phases, oldest first (never an arm).") { phaseOfEvents };
        events.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new ParticipantService.ParticipantServiceClient(s.Channel()).ListSafetyEventsAsync(new ListSafetyEventsRequest
            {
                Phase = p.GetValue(phaseOfEvents) switch { "dose-escalation" => TrialPhase.DoseEscalation, "randomized" => TrialPhase.Randomized, _ => TrialPhase.Unspecified },
            }, cancellationToken: ct);
            s.PrintTable(reply, ["PARTICIPANT", "SITE", "PHASE", "EVENT", "ONSET", "SERIOUS", "TE-SAE", "REPORTED (UTC)"],
                reply.Events.Select(e => (IReadOnlyList<string>)[
                    e.ParticipantId, e.SiteCode, e.Phase == TrialPhase.Randomized ? "II" : "I", e.Type.ToString(),
                    $"{e.OnsetDate.Year:D4}-{e.OnsetDate.Month:D2}-{e.OnsetDate.Day:D2}", e.Serious ? "yes" : "no", e.TreatmentEmergent ? "yes" : "no",
                    UnblindingCommands.Time(e.ReportedAt)]).ToList());
        });

        return [list, get, infusion, safety, withdraw, mark, events];
    }

    private static string Words(ParticipantStatus status) => status.ToString().ToLowerInvariant();

    private static string Flags(ParticipantSummary x) => string.Join(", ", new[]
    {
        x.Withdrawn ? "withdrawn" : null,
        x.EmergencyUnblinded ? "emergency unblinded" : null,
        x.RandomizedInErrorType switch
        {
            RandomizedInErrorType.Ineligible => "randomized in error (ineligible)",
            RandomizedInErrorType.WrongStratum => "randomized in error (wrong stratum)",
            _ => null,
        },
    }.Where(f => f is not null));

    private static void PrintRecord(CliSession s, Google.Protobuf.IMessage reply, ParticipantRecord r)
    {
        var x = r.Summary;
        var rows = new List<(string, string)>
        {
            ("Participant", x.ParticipantId),
            ("Site", x.SiteCode),
            ("Screening id", x.ScreeningId),
            ("Phase", x.Phase == TrialPhase.Randomized ? "II (randomized, blinded)" : "I (dose escalation)"),
            (x.Phase == TrialPhase.Randomized ? "Randomization number" : "Cohort", x.Phase == TrialPhase.Randomized ? x.RandomizationNumber : x.Cohort.ToString(CultureInfo.InvariantCulture)),
            ("Product code", x.ProductCode),
            ("Sex recorded", r.Sex.ToString().ToLowerInvariant()),
            ("Status", Words(x.Status)),
        };
        if (r.CohortDose.Length > 0) rows.Add(("Dose", r.CohortDose));
        if (x.InfusedAt is not null) rows.Add(("Infused at (UTC)", UnblindingCommands.Time(x.InfusedAt)));
        if (x.Withdrawn) rows.Add(("Withdrawn", $"{UnblindingCommands.Time(x.WithdrawnAt)}: {r.WithdrawalReason}"));
        if (x.EmergencyUnblinded) rows.Add(("Emergency unblinded", UnblindingCommands.Time(x.EmergencyUnblindedAt)));
        if (r.RandomizedInError is { } m)
        {
            rows.Add(("Randomized in error", m.Type == RandomizedInErrorType.Ineligible ? "ineligible" : "wrong stratum"));
            if (m.CorrectSex != Sex.Unspecified) rows.Add(("Correct sex", m.CorrectSex.ToString().ToLowerInvariant()));
            if (m.CorrectSiteCode.Length > 0) rows.Add(("Correct site", m.CorrectSiteCode));
            rows.Add(("Reason", m.Reason));
            rows.Add(("Signed", m.Signature?.Text ?? $"{m.MarkedBy} at {UnblindingCommands.Time(m.MarkedAt)}"));
            rows.Add(("Allocation", "kept; the participant stays randomized and in the analysis"));
        }
        s.Print(reply, rows);
    }
}
