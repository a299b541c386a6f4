using System.Security.Cryptography;
using System.Text.Json;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Persistence;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Identity;

namespace Cratus.Testing;

/// <summary>
/// Electronic signatures in tests. <see cref="SignAsync"/> re-authenticates through the real
/// SignatureService.Reauthenticate and answers the signature to put in a signed action's request:
/// <c>request.Signature = await clients.SignAsync(SignedAction.UnblindingApproval, unblindingId)</c>. The user behind
/// a minted token has an account in the server's store (with <see cref="Password"/> and a full name derived from the
/// subject), made when the token is minted, so any subject can sign.
///
/// The channels of <see cref="TrialServer"/> and <see cref="ServerProcess"/> also sign on their own (<see cref="AutoSigner"/>): a signed action's
/// request sent with no signature at all is signed as the token's user, as above, before it goes out, so tests about
/// something else stay short and still pass through Reauthenticate and the proof's redemption. A request that carries
/// a signature, even an empty one, goes out exactly as given; so does one whose re-authentication the server refuses
/// (a malformed record id), so the server's own refusal of the request is what the test sees.
/// </summary>
public static class Signing
{
    /// <summary>The password of every account these helpers create.</summary>
    public const string Password = "Signer-Password-2026!";

    /// <summary>The full name printed in the signatures of <paramref name="subject"/>'s account ("Signer statistician-1").</summary>
    public static string FullNameOf(string subject) => $"Signer {subject}";

    public static async Task<ElectronicSignature> SignAsync(this TrialClients clients, SignedAction action, string recordId,
        SignatureMeaning meaning = SignatureMeaning.Approval, string password = Password, string totpCode = "")
    {
        var proof = await new SignatureService.SignatureServiceClient(clients.Channel).ReauthenticateAsync(
            new ReauthenticateRequest { Action = action, RecordId = recordId, Password = password, TotpCode = totpCode });
        return new ElectronicSignature { SigningProof = proof.SigningProof, Meaning = meaning };
    }

    /// <summary>The record id an import's signature names: the SHA-256 of the CSV, lowercase hex.</summary>
    public static string RecordIdOf(ByteString csv) => Convert.ToHexStringLower(SHA256.HashData(csv.Span));

    /// <summary>A hash of <see cref="Password"/> (ASP.NET Core Identity's, with its own salt), for the accounts that
    /// TrialServer and ServerProcess make for the tokens they mint (<see cref="TestSecrets.AccountSql"/>).</summary>
    public static string PasswordHash { get; } = new PasswordHasher<TrialUser>().HashPassword(new TrialUser { Role = "monitor" }, Password);

    private static (string Subject, string Role, IReadOnlyList<string> Sites) ClaimsOf(string token)
    {
        var payload = token.Split('.')[1].Replace('-', '+').Replace('_', '/');
        payload = payload.PadRight(payload.Length + (4 - payload.Length % 4) % 4, '=');
        using var json = JsonDocument.Parse(Convert.FromBase64String(payload));
        var root = json.RootElement;
        var sites = !root.TryGetProperty("site", out var site) ? [] :
            site.ValueKind == JsonValueKind.Array ? site.EnumerateArray().Select(s => s.GetString()!).ToList() : [site.GetString()!];
        return (root.GetProperty("sub").GetString()!, root.GetProperty("role").GetString()!, sites);
    }

    /// <summary>Signs a signed action's request that carries no signature, as the token's user (see <see cref="Signing"/>).</summary>
    public sealed class AutoSigner(string? token, CallInvoker plain) : Interceptor
    {
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, ElectronicSignature> FirstAttempts = new();

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
            TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            if (token is null || request is not IMessage message || message.Descriptor.FindFieldByName("signature") is not { } field
                || field.MessageType?.Name != nameof(ElectronicSignature) || field.Accessor.GetValue(message) is not null)
                return continuation(request, context);
            var call = SignThenCallAsync(request, message, field, context, continuation);
            return new AsyncUnaryCall<TResponse>(
                call.ContinueWith(t => t.Result.ResponseAsync, TaskScheduler.Default).Unwrap(),
                call.ContinueWith(t => t.Result.ResponseHeadersAsync, TaskScheduler.Default).Unwrap(),
                () => call.Result.GetStatus(),
                () => call.Result.GetTrailers(),
                () => { if (call.IsCompletedSuccessfully) call.Result.Dispose(); });
        }

        private async Task<AsyncUnaryCall<TResponse>> SignThenCallAsync<TRequest, TResponse>(TRequest request, IMessage message,
            Google.Protobuf.Reflection.FieldDescriptor field, ClientInterceptorContext<TRequest, TResponse> context,
            AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
            where TRequest : class where TResponse : class
        {
            var (action, recordId) = message switch
            {
                ApproveUnblindingRequest r => (SignedAction.UnblindingApproval, r.UnblindingId),
                EmergencyUnblindRequest r => (SignedAction.EmergencyUnblinding, r.ParticipantId),
                MarkRandomizedInErrorRequest r => (SignedAction.RandomizedInError, r.ParticipantId),
                ReleaseLotRequest r => (SignedAction.LotRelease, r.LotNumber),
                RecordPreparationRequest r => (SignedAction.DosePreparation, r.ParticipantId),
                VerifyPreparationRequest r => (SignedAction.PreparationCheck, r.ProductId),
                ImportScheduleRequest r => (SignedAction.ScheduleImport, RecordIdOf(r.Csv)),
                GenerateScheduleRequest => (SignedAction.ScheduleGeneration, await TrialIdAsync()),
                AmendScheduleRequest r => (SignedAction.ScheduleAmendment, r.Csv.IsEmpty ? r.SiteCode : RecordIdOf(r.Csv)),
                RecordDsmbDecisionRequest => (SignedAction.DsmbDecision, await CurrentCohortAsync()),
                _ => throw new InvalidOperationException($"{message.Descriptor.Name} is signed, but the test helper does not know its record"),
            };
            // A retry of a write (the same request id) carries the signature of its first attempt, as a client's would.
            var requestId = message.Descriptor.FindFieldByName("request_id")?.Accessor.GetValue(message) as string;
            // As a client keeps it for its retries: per signer and request id (request ids compare case-insensitively).
            var key = $"{(token is null ? "" : ClaimsOf(token).Subject)}|{requestId?.ToLowerInvariant()}";
            if (!string.IsNullOrEmpty(requestId) && FirstAttempts.TryGetValue(key, out var first))
            {
                field.Accessor.SetValue(message, first.Clone());
                return continuation(request, context);
            }
            try
            {
                var signature = await new TrialClients(plain).SignAsync(action, recordId);
                if (!string.IsNullOrEmpty(requestId)) FirstAttempts[key] = signature;
                field.Accessor.SetValue(message, signature.Clone());
            }
            catch (RpcException)
            {
                // Re-authentication refused (a malformed record id, a role the trial store does not know): the request
                // goes out unsigned and the server's answer to it is what the test sees.
            }
            return continuation(request, context);
        }

        private async Task<string> TrialIdAsync()
        {
            try
            {
                return (await new TrialService.TrialServiceClient(plain).GetTrialAsync(new GetTrialRequest())).TrialId;
            }
            catch (RpcException)
            {
                return "unknown";
            }
        }

        private async Task<string> CurrentCohortAsync()
        {
            try
            {
                var status = await new DoseEscalationService.DoseEscalationServiceClient(plain).GetEscalationStatusAsync(new GetEscalationStatusRequest());
                return status.Status.CurrentCohort.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (RpcException)
            {
                return "1";
            }
        }
    }
}
