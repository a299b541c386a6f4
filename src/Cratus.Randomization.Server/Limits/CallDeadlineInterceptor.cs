using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Limits;

/// <summary>
/// Makes every call end by its deadline (the client's or the server's <see cref="LimitOptions.CallTimeout"/>,
/// whichever comes first) even when the database hangs. The call's work is handed a token that fires a little before
/// that deadline: on a database that hangs (a stopped host, stalled storage) the PostgreSQL driver spends up to its
/// connect timeout trying to deliver a cancel request before it drops the connection, and that time has to come out of
/// the call's budget, not be added to it. A call cut short this way is DEADLINE_EXCEEDED; its transaction never
/// committed, so nothing is stored and a retry with the same request_id is safe.
/// </summary>
public sealed partial class CallDeadlineInterceptor(IOptions<LimitOptions> options, IServiceScopeFactory scopes, ILogger<CallDeadlineInterceptor> logger) : Interceptor
{
    /// <summary>The most of a call's time kept back for abandoning a hung database; half of it for short deadlines.</summary>
    internal static readonly TimeSpan AbandonReserve = TimeSpan.FromMilliseconds(500);

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        // Deadlines are wall-clock instants on the wire (grpc-timeout is turned into one); the server's own limit starts now.
        var now = DateTime.UtcNow;
        var deadline = context.Deadline < now + options.Value.CallTimeout ? context.Deadline : now + options.Value.CallTimeout;
        var remaining = deadline - now;
        var reserve = remaining / 2 < AbandonReserve ? remaining / 2 : AbandonReserve;
        var http = context.GetHttpContext();

        // The call's work gets a service scope of its own (its DbContext among them) and an HttpContext of its own
        // (the caller's identity, the trace id, that scope), owned here and not by the request. If the work has to be
        // abandoned, it keeps using only these: never the request's HttpContext, which the server recycles for another
        // request once this one has answered, and never a DbContext that goes back to the pool while still in use.
        var scope = scopes.CreateAsyncScope();
        var detached = new DefaultHttpContext { RequestServices = scope.ServiceProvider, User = http.User, TraceIdentifier = http.TraceIdentifier };
        // The endpoint (an immutable description of the RPC, with the use case it runs) goes along; it is not recycled.
        detached.SetEndpoint(http.GetEndpoint());
        var work = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        work.CancelAfter(remaining - reserve > TimeSpan.Zero ? remaining - reserve : TimeSpan.Zero);
        var running = continuation(request, new WorkContext(context, detached, work.Token));
        try
        {
            // The work is asked to stop a little before the deadline; the call ends at the deadline whether it has
            // stopped or not. A database driver can stay stuck past its cancellation (PostgreSQL stopped, not gone:
            // the cancel request itself waits on the hung server), and the caller must not wait with it.
            return await running.WaitAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, context.CancellationToken);
        }
        catch (Exception ex) when (ex is not RpcException && work.IsCancellationRequested)
        {
            // Whatever the cut-short work threw (a cancellation, the driver's broken connection, or it is still
            // stuck), the call ran out of time. Its transaction is either rolled back or, if the database later
            // finishes it, committed whole: the outcome is unknown to the caller, and a retry with the same
            // request_id tells (the first answer if it was made, the change made once if it was not).
            if (!running.IsCompleted) LogAbandoned(logger, context.Method);
            throw Grpc.RichStatus.Exception(StatusCode.DeadlineExceeded, Protos.V1.ErrorReason.DeadlineExceeded,
                "The call ran out of time before the trial database answered, so whether it was carried out is not known. " +
                "Retry with the same request_id: you get its answer if it was, and it is carried out once if it was not.");
        }
        finally
        {
            _ = ReleaseWhenDoneAsync(running, scope, work);
        }
    }

    /// <summary>Disposes the work's scope and token source once the work has ended, now or after it was abandoned.</summary>
    private static async Task ReleaseWhenDoneAsync(Task running, AsyncServiceScope scope, CancellationTokenSource work)
    {
        try
        {
            await running;
        }
        catch
        {
            // Its outcome was reported (or abandoned) by the call; only the resources remain to release.
        }
        finally
        {
            await scope.DisposeAsync();
            work.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Call {Method} abandoned at its deadline while the database had not answered; its work ends when the database does")]
    private static partial void LogAbandoned(ILogger logger, string method);

    /// <summary>The call's context with the work's own cancellation token and HttpContext; the rest is the call's.</summary>
    private sealed class WorkContext(ServerCallContext call, HttpContext http, CancellationToken token) : ServerCallContext
    {
        // GetHttpContext() on a context that is not the library's own reads it from here.
        private readonly Dictionary<object, object> _userState = new() { ["__HttpContext"] = http };

        protected override string MethodCore => call.Method;
        protected override string HostCore => call.Host;
        protected override string PeerCore => call.Peer;
        protected override DateTime DeadlineCore => call.Deadline;
        protected override Metadata RequestHeadersCore => call.RequestHeaders;
        protected override CancellationToken CancellationTokenCore => token;
        protected override Metadata ResponseTrailersCore => call.ResponseTrailers;
        protected override Status StatusCore { get => call.Status; set => call.Status = value; }
        protected override WriteOptions? WriteOptionsCore { get => call.WriteOptions; set => call.WriteOptions = value; }
        protected override AuthContext AuthContextCore => call.AuthContext;
        protected override IDictionary<object, object> UserStateCore => _userState;

        protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => call.CreatePropagationToken(options);
        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => call.WriteResponseHeadersAsync(responseHeaders);
    }
}
