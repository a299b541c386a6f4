using System.Globalization;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application.Participants;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Domain = Cratus.Randomization.Domain;
using Proto = Cratus.Randomization.Protos.V1;

namespace Cratus.Randomization.Server.Grpc;

/// <summary>The door to the participants of both phases: message in, use case, message out; never an arm in a reply.</summary>
public sealed class ParticipantGrpcService(
    ListParticipants list, GetParticipant get, RecordInfusion recordInfusion, ReportSafetyEvent reportSafetyEvent, RecordWithdrawal recordWithdrawal,
    MarkRandomizedInError markRandomizedInError, ListSafetyEvents listSafetyEvents) : Proto.ParticipantService.ParticipantServiceBase
{
    [Runs(typeof(ListParticipants))]
    public override async Task<ListParticipantsResponse> ListParticipants(ListParticipantsRequest request, ServerCallContext context)
    {
        var page = 1;
        if (request.PageToken.Length > 0 && (!int.TryParse(request.PageToken, NumberStyles.None, CultureInfo.InvariantCulture, out page) || page < 1))
            throw Domain.TrialRuleException.Invalid("page_token", "page_token must be the next_page_token of the previous page.");
        var query = new ParticipantQuery(request.SiteCode.Length == 0 ? null : request.SiteCode, ToDomain(request.Phase), ToDomain(request.Status),
            Page: page, PageSize: request.PageSize == 0 ? 25 : request.PageSize);
        var result = await list.RunAsync(AccessInterceptor.CallerOf(context), query, context.CancellationToken);
        return new ListParticipantsResponse
        {
            Participants = { result.Rows.Select(ToProto) },
            TotalSize = result.Total,
            NextPageToken = result.Page * result.PageSize < result.Total ? (result.Page + 1).ToString(CultureInfo.InvariantCulture) : "",
        };
    }

    [Runs(typeof(GetParticipant))]
    public override async Task<GetParticipantResponse> GetParticipant(GetParticipantRequest request, ServerCallContext context) =>
        new() { Participant = ToProto(await get.RunAsync(AccessInterceptor.CallerOf(context), request.ParticipantId, context.CancellationToken)) };

    [Runs(typeof(RecordInfusion))]
    public override async Task<RecordInfusionResponse> RecordInfusion(RecordInfusionRequest request, ServerCallContext context)
    {
        var infusion = await recordInfusion.RunAsync(AccessInterceptor.CallerOf(context),
            new InfusionCommand(request.ParticipantId, request.InfusedAt.ToInput()), context.CancellationToken);
        return new RecordInfusionResponse
        {
            ParticipantId = request.ParticipantId,
            InfusedAt = Timestamp.FromDateTimeOffset(infusion.InfusedAt),
            SafetyWindowClosesAt = Timestamp.FromDateTimeOffset(infusion.SafetyWindowClosesAt),
        };
    }

    [Runs(typeof(ReportSafetyEvent))]
    public override async Task<ReportSafetyEventResponse> ReportSafetyEvent(ReportSafetyEventRequest request, ServerCallContext context)
    {
        var report = await reportSafetyEvent.RunAsync(AccessInterceptor.CallerOf(context),
            new SafetyEventCommand(request.ParticipantId, DoseEscalationGrpcService.ToDomain(request.Type), ProtoMapping.ToDate(request.OnsetDate), request.Serious),
            context.CancellationToken);
        return new ReportSafetyEventResponse { TreatmentEmergent = report.TreatmentEmergent, EnrolmentOnHold = report.EnrolmentOnHold, Message = report.Message };
    }

    [Runs(typeof(RecordWithdrawal))]
    public override async Task<RecordWithdrawalResponse> RecordWithdrawal(RecordWithdrawalRequest request, ServerCallContext context) =>
        new() { PlaceFreed = await recordWithdrawal.RunAsync(AccessInterceptor.CallerOf(context), new WithdrawalCommand(request.ParticipantId, request.Reason), context.CancellationToken) };

    [Runs(typeof(MarkRandomizedInError))]
    public override async Task<MarkRandomizedInErrorResponse> MarkRandomizedInError(MarkRandomizedInErrorRequest request, ServerCallContext context)
    {
        Domain.RandomizedInErrorType? type = request.Type switch
        {
            Proto.RandomizedInErrorType.Ineligible => Domain.RandomizedInErrorType.Ineligible,
            Proto.RandomizedInErrorType.WrongStratum => Domain.RandomizedInErrorType.WrongStratum,
            _ => null,
        };
        Domain.Sex? sex = request.CorrectSex switch
        {
            Proto.Sex.Female => Domain.Sex.Female,
            Proto.Sex.Male => Domain.Sex.Male,
            Proto.Sex.Unspecified => null,
            _ => throw Domain.TrialRuleException.Invalid("correct_sex", "correct_sex must be female or male, or unspecified when the sex recorded was right."),
        };
        var record = await markRandomizedInError.RunAsync(AccessInterceptor.CallerOf(context), new RandomizedInErrorCommand(request.ParticipantId, type, sex,
            request.CorrectSiteCode.Length == 0 ? null : request.CorrectSiteCode, request.Reason, request.Signature.ToInput()), context.CancellationToken);
        return new MarkRandomizedInErrorResponse { Participant = ToProto(record) };
    }

    [Runs(typeof(ListSafetyEvents))]
    public override async Task<ListSafetyEventsResponse> ListSafetyEvents(ListSafetyEventsRequest request, ServerCallContext context)
    {
        var events = await listSafetyEvents.RunAsync(AccessInterceptor.CallerOf(context), ToDomain(request.Phase), context.CancellationToken);
        return new ListSafetyEventsResponse
        {
            Events =
            {
                events.Select(e => new ParticipantSafetyEvent
                {
                    ParticipantId = e.ParticipantId, SiteCode = e.SiteCode, Phase = ToProto(e.Phase), Type = DoseEscalationGrpcService.ToProto(e.Type),
                    OnsetDate = new CalendarDate { Year = e.Onset.Year, Month = e.Onset.Month, Day = e.Onset.Day },
                    Serious = e.Serious, TreatmentEmergent = e.TreatmentEmergent, ReportedAt = Timestamp.FromDateTimeOffset(e.ReportedAt),
                }),
            },
        };
    }

    private static ParticipantSummary ToProto(ParticipantRow r) => new()
    {
        ParticipantId = r.ParticipantId, SiteCode = r.SiteCode, ScreeningId = r.ScreeningId, Phase = ToProto(r.Phase), Status = ToProto(r.Status),
        RandomizationNumber = r.RandomizationNumber, Cohort = r.Cohort ?? 0, ProductCode = r.ProductCode, EnrolledAt = Timestamp.FromDateTimeOffset(r.EnrolledAt),
        InfusedAt = r.InfusedAt.ToProto(), Withdrawn = r.WithdrawnAt is not null, WithdrawnAt = r.WithdrawnAt.ToProto(),
        EmergencyUnblinded = r.EmergencyUnblinded, EmergencyUnblindedAt = r.EmergencyUnblindedAt.ToProto(), RandomizedInErrorType = ToProto(r.RandomizedInError),
    };

    private static ParticipantRecord ToProto(ParticipantDetail p) => new()
    {
        Summary = ToProto(new ParticipantRow(p.ParticipantId, p.SiteCode, p.ScreeningId, p.Phase, p.Status, p.RandomizationNumber, p.Cohort, p.ProductCode,
            p.EnrolledAt, p.InfusedAt, p.EmergencyUnblinded, p.WithdrawnAt, p.EmergencyUnblindedAt, p.RandomizedInError?.Type)),
        CohortDose = p.CohortDose ?? "",
        Sex = ToProto(p.Sex),
        EnrolledBy = p.EnrolledBy,
        WithdrawalReason = p.WithdrawalReason ?? "",
        RandomizedInError = p.RandomizedInError is { } m
            ? new RandomizedInErrorMark
            {
                Type = ToProto(m.Type), CorrectSex = m.CorrectSex is { } sex ? ToProto(sex) : Proto.Sex.Unspecified, CorrectSiteCode = m.CorrectSiteCode ?? "",
                Reason = m.Reason, MarkedAt = Timestamp.FromDateTimeOffset(m.MarkedAt), MarkedBy = m.MarkedBy, Signature = m.Signature?.ToProto(),
            }
            : null,
    };

    private static Proto.Sex ToProto(Domain.Sex sex) => sex == Domain.Sex.Male ? Proto.Sex.Male : Proto.Sex.Female;

    private static Proto.TrialPhase ToProto(Domain.TrialPhase phase) =>
        phase == Domain.TrialPhase.DoseEscalation ? Proto.TrialPhase.DoseEscalation : Proto.TrialPhase.Randomized;

    private static Domain.TrialPhase? ToDomain(Proto.TrialPhase phase) => phase switch
    {
        Proto.TrialPhase.DoseEscalation => Domain.TrialPhase.DoseEscalation,
        Proto.TrialPhase.Randomized => Domain.TrialPhase.Randomized,
        Proto.TrialPhase.Unspecified => null,
        _ => throw Domain.TrialRuleException.Invalid("phase", "phase must be dose escalation or randomized, or unspecified for both."),
    };

    private static Proto.ParticipantStatus ToProto(Domain.ParticipantStatus status) => status switch
    {
        Domain.ParticipantStatus.Enrolled => Proto.ParticipantStatus.Enrolled,
        Domain.ParticipantStatus.Randomized => Proto.ParticipantStatus.Randomized,
        Domain.ParticipantStatus.Infused => Proto.ParticipantStatus.Infused,
        _ => Proto.ParticipantStatus.Withdrawn,
    };

    private static Domain.ParticipantStatus? ToDomain(Proto.ParticipantStatus status) => status switch
    {
        Proto.ParticipantStatus.Enrolled => Domain.ParticipantStatus.Enrolled,
        Proto.ParticipantStatus.Randomized => Domain.ParticipantStatus.Randomized,
        Proto.ParticipantStatus.Infused => Domain.ParticipantStatus.Infused,
        Proto.ParticipantStatus.Withdrawn => Domain.ParticipantStatus.Withdrawn,
        Proto.ParticipantStatus.Unspecified => null,
        _ => throw Domain.TrialRuleException.Invalid("status", "status must be enrolled, randomized, infused or withdrawn, or unspecified for any."),
    };

    private static Proto.RandomizedInErrorType ToProto(Domain.RandomizedInErrorType? type) => type switch
    {
        Domain.RandomizedInErrorType.Ineligible => Proto.RandomizedInErrorType.Ineligible,
        Domain.RandomizedInErrorType.WrongStratum => Proto.RandomizedInErrorType.WrongStratum,
        _ => Proto.RandomizedInErrorType.Unspecified,
    };
}
