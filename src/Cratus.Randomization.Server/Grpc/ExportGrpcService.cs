using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application.Exports;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;
using Grpc.Core;
using Format = Cratus.Randomization.Domain.ExportFormat;

namespace Cratus.Randomization.Server.Grpc;

/// <summary>
/// The export door. The RPC names the blinded export as its use case, so the roles that may take no export at all are
/// refused before the request is read; the unblinded export then checks its own, narrower permission (statisticians).
/// </summary>
public sealed class ExportGrpcService(ExportBlindedParticipants blinded, ExportUnblindedParticipants unblinded) : ExportService.ExportServiceBase
{
    [Runs(typeof(ExportBlindedParticipants))]
    public override async Task<ExportParticipantsResponse> ExportParticipants(ExportParticipantsRequest request, ServerCallContext context)
    {
        Format? format = request.Format switch
        {
            ExportFormat.Csv => Format.Csv,
            ExportFormat.Cdisc => Format.Cdisc,
            _ => null,
        };
        var caller = AccessInterceptor.CallerOf(context);
        var command = new ExportCommand(format, request.UnblindingId);
        var file = request.Scope switch
        {
            ExportScope.Blinded => await blinded.RunAsync(caller, command, context.CancellationToken),
            ExportScope.Unblinded => await unblinded.RunAsync(caller, command, context.CancellationToken),
            _ => throw Domain.TrialRuleException.Invalid("scope", "scope is required: blinded, or unblinded with an approved unblinding_id."),
        };
        return new ExportParticipantsResponse
        {
            FileName = file.FileName,
            ContentType = file.ContentType,
            Content = ByteString.CopyFrom(file.Content),
            Sha256 = file.Sha256,
            Rows = file.Rows,
            TrialMode = file.TrialMode,
        };
    }
}
