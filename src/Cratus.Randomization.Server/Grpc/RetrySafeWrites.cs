using System.Collections.Concurrent;
using System.Security.Cryptography;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Limits;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Grpc;

/// <summary>
/// Makes every write safe to retry (AIP-155). A write is an RPC whose request has a <c>request_id</c> field: a UUID
/// the client chooses once per intended change and sends again on every retry. The whole call runs in one database
/// transaction that also stores the sealed reply under that id, so:
/// the same id with the same request (same method, same caller, same fields) returns the first reply and writes
/// nothing, audit trail included; the same id with anything else is ALREADY_EXISTS (REQUEST_ID_REUSED); two calls
/// racing with one id are serialized by the database (its primary key on the id: the loser runs again and finds the
/// winner's answer), so only one writes. The transaction takes no trial lock of its own: the use case's unit takes the
/// one it declares (<see cref="WriteSerialization"/>), so a randomization here still runs beside other strata.
/// A refused call stores nothing, so its retry is judged afresh.
/// </summary>
public sealed class RetrySafeWrites(SecretBox secrets, TimeProvider trialClock, IOptions<LimitOptions> limits) : Interceptor
{
    // A client's retry happens in real time: a rehearsal's moved trial clock must not expire the answers it keeps.
    private readonly TimeProvider clock = Rehearsal.TrialClock.WallOf(trialClock);

    private static readonly ConcurrentDictionary<Type, FieldDescriptor?> RequestIdFields = new();

    /// <summary>The request_id field of a request message, or null when the RPC is not a write.</summary>
    public static FieldDescriptor? RequestIdField(MessageDescriptor request) =>
        request.FindFieldByName("request_id") is { FieldType: FieldType.String } field ? field : null;

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (request is not IMessage message || RequestIdFields.GetOrAdd(typeof(TRequest), _ => RequestIdField(message.Descriptor)) is not { } idField)
            return await continuation(request, context);

        var requestId = (string)idField.Accessor.GetValue(message);
        if (!Identifiers.IsValidRequestId(requestId))
            throw TrialRuleException.Invalid("request_id",
                "request_id must be a UUID chosen by the client for this change (for example 3f2b6c1e-8d4a-4f5e-9b7c-2a1d0e9f8c7b); send the same one on every retry.");
        requestId = requestId.ToLowerInvariant();
        var caller = AccessInterceptor.CallerOf(context)?.Subject ?? "";
        var fingerprint = Fingerprint(context.Method, caller, message, idField);
        var db = context.GetHttpContext().RequestServices.GetRequiredService<TrialDbContext>();

        return await db.InTransactionAsync(async ct =>
        {
            var earlier = await db.WriteRequests.AsNoTracking().SingleOrDefaultAsync(r => r.RequestId == requestId, ct);
            if (earlier is not null)
            {
                // The fingerprint covers the method, the caller and every field but the id.
                if (earlier.RequestSha256 != fingerprint)
                    throw new TrialRuleException(RefusalReason.RequestIdReused,
                        "This request_id was already used for a different request. Use a new request_id for each change; reuse one only to retry the same request.");
                // Past its retention the answer is refused even before the hourly eraser has erased it; so is an
                // answer sealed with a key since retired and removed (key rotation does not reseal answers).
                if (earlier.ReplySealed.Length == 0 || earlier.RecordedAt + limits.Value.WriteAnswerRetention < clock.GetUtcNow()
                    || !secrets.HoldsKeyOf(earlier.ReplySealed))
                    throw new WriteAnswerExpiredException(earlier.RecordedAt);
                var parser = ((IMessage)Activator.CreateInstance<TResponse>()!).Descriptor.Parser;
                return (TResponse)parser.ParseFrom(Convert.FromBase64String(secrets.Open(earlier.ReplySealed, ReplyContext(requestId, context.Method))));
            }
            var reply = await continuation(request, context);
            db.WriteRequests.Add(new WriteRequestRecord
            {
                RequestId = requestId,
                Method = context.Method,
                // Who sent it, for the record (the fingerprint is what is compared, so a long subject is cut, not refused).
                CallerSubject = caller.Length <= 200 ? caller : caller[..200],
                RequestSha256 = fingerprint,
                ReplySealed = secrets.Seal(Convert.ToBase64String(((IMessage)reply!).ToByteArray()), ReplyContext(requestId, context.Method)),
                RecordedAt = clock.GetUtcNow(),
            });
            return reply;
        }, context.CancellationToken, WriteSerialization.DeclaredByInnerUnit);
    }

    /// <summary>
    /// Erases the answers kept longer than <see cref="LimitOptions.WriteAnswerRetention"/> (the row stays, so its
    /// request id can never be used for another write). Run at start and then every hour by <see cref="WriteAnswerEraser"/>.
    /// </summary>
    public static async Task<int> EraseExpiredAnswersAsync(TrialDbContext db, DateTimeOffset now, TimeSpan retention, CancellationToken ct)
    {
        // A trial makes a few thousand writes at most; the comparison runs here, the same on every database.
        var kept = await db.WriteRequests.Where(r => r.ReplySealed != "").Select(r => new { r.RequestId, r.RecordedAt }).ToListAsync(ct);
        var expired = kept.Where(r => r.RecordedAt + retention < now).Select(r => r.RequestId).ToList();
        if (expired.Count == 0) return 0;
        return await db.WriteRequests.Where(r => expired.Contains(r.RequestId)).ExecuteUpdateAsync(u => u.SetProperty(r => r.ReplySealed, ""), ct);
    }

    /// <summary>The sealed reply opens only under its own request id and method.</summary>
    public static string ReplyContext(string requestId, string method) => $"reply|{requestId}|{method}";

    private static string Fingerprint(string method, string caller, IMessage message, FieldDescriptor idField)
    {
        // The request as sent but for its id: cleared for the moment of serializing, then put back.
        var id = idField.Accessor.GetValue(message);
        idField.Accessor.Clear(message);
        var body = message.ToByteArray();
        idField.Accessor.SetValue(message, id);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var part in new[] { method, caller })
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(part);
            hash.AppendData(BitConverter.GetBytes(bytes.Length));
            hash.AppendData(bytes);
        }
        hash.AppendData(body);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

/// <summary>A retry that came after its answer was erased: refused, and never carried out again.</summary>
public sealed class WriteAnswerExpiredException(DateTimeOffset recordedAt)
    : Exception($"This request was carried out on {recordedAt:yyyy-MM-dd HH:mm} UTC, longer ago than its answer is kept, so it is not carried out again. Read the current state instead (for example GetAssignment).");

/// <summary>Erases expired write answers at start and every hour (see <see cref="RetrySafeWrites.EraseExpiredAnswersAsync"/>).</summary>
public sealed partial class WriteAnswerEraser(IServiceScopeFactory scopes, TimeProvider trialClock, IOptions<LimitOptions> limits, ILogger<WriteAnswerEraser> logger)
    : BackgroundService
{
    private readonly TimeProvider clock = Rehearsal.TrialClock.WallOf(trialClock);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), clock);
        do
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var erased = await RetrySafeWrites.EraseExpiredAnswersAsync(scope.ServiceProvider.GetRequiredService<TrialDbContext>(),
                    clock.GetUtcNow(), limits.Value.WriteAnswerRetention, stoppingToken);
                if (erased > 0) LogErased(logger, erased);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The database may be away; the next round tries again, and a retry checks the age itself.
                LogFailed(logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Erased {Count} write answers older than their retention")]
    private static partial void LogErased(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not erase expired write answers now: {Problem}")]
    private static partial void LogFailed(ILogger logger, string problem);
}
