using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application.Schedule;
using Cratus.Randomization.Server.Security;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

public sealed class ScheduleGrpcService(GenerateSchedule generate, ImportSchedule import, AmendSchedule amend) : ScheduleService.ScheduleServiceBase
{
    [Runs(typeof(GenerateSchedule))]
    public override async Task<GenerateScheduleResponse> GenerateSchedule(GenerateScheduleRequest request, ServerCallContext context)
    {
        var receipt = await generate.RunAsync(AccessInterceptor.CallerOf(context), new GenerateScheduleCommand(request.BlockSizes, request.Reason, request.Signature.ToInput()), context.CancellationToken);
        return new GenerateScheduleResponse
        {
            Sha256Hex = receipt.CommitmentSha256,
            SeedHex = receipt.SeedHex,
            SaltHex = receipt.SaltHex,
            BlockSizes = { receipt.BlockSizes },
            Strata = { receipt.Strata.Select(s => new StratumSize { Stratum = s.Stratum, Entries = s.Entries }) },
        };
    }

    [Runs(typeof(ImportSchedule))]
    public override async Task<ImportScheduleResponse> ImportSchedule(ImportScheduleRequest request, ServerCallContext context)
    {
        var receipt = await import.RunAsync(AccessInterceptor.CallerOf(context), new ImportScheduleCommand(request.Csv.Memory, request.Reason, request.Signature.ToInput()), context.CancellationToken);
        return new ImportScheduleResponse
        {
            Sha256Hex = receipt.CommitmentSha256,
            SaltHex = receipt.SaltHex,
            Strata = { receipt.Strata.Select(s => new StratumSize { Stratum = s.Stratum, Entries = s.Entries }) },
        };
    }

    [Runs(typeof(AmendSchedule))]
    public override async Task<AmendScheduleResponse> AmendSchedule(AmendScheduleRequest request, ServerCallContext context)
    {
        var receipt = await amend.RunAsync(AccessInterceptor.CallerOf(context),
            new AmendScheduleCommand(request.SiteCode, request.SiteName, request.Csv.IsEmpty ? (ReadOnlyMemory<byte>?)null : request.Csv.Memory, request.Reason, request.Signature.ToInput()),
            context.CancellationToken);
        return new AmendScheduleResponse
        {
            SiteCode = receipt.SiteCode,
            Part = receipt.Part,
            Sha256Hex = receipt.CommitmentSha256,
            PreviousSha256Hex = receipt.PreviousCommitmentSha256,
            SeedHex = receipt.SeedHex ?? "",
            SaltHex = receipt.SaltHex,
            BlockSizes = { receipt.BlockSizes },
            Strata = { receipt.Strata.Select(s => new AmendedStratum { Stratum = s.Stratum, Ordinal = s.Ordinal, Entries = s.Entries }) },
            OrdinalWidth = receipt.OrdinalWidth,
        };
    }
}
