using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Grpc;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Cratus.Randomization.Server.Identity;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Security;

/// <summary>
/// Establishes who is calling: the caller from a validated access token, or none (only the sign-in calls take none).
/// A token that does not name exactly one known role and a subject is UNAUTHENTICATED. Then, before anything reads the
/// request, it has the application check the caller against the permission of the use case the RPC runs
/// (<see cref="RunsAttribute"/>, <see cref="Permissions.Demand"/>): no role is judged here, and the use case checks
/// again whichever door calls it. With the built-in OpenID Connect server, a token whose account changed since it was
/// issued, or that was revoked, is refused here (<see cref="AccountCheck"/>): inside the call's deadline and error
/// translation, so a database that does not answer makes the call UNAVAILABLE in time, never a hung sign-in.
/// </summary>
public sealed class AccessInterceptor(CallerResolver resolver, AccountCheck accountCheck, IOptions<TokenOptions> options) : Interceptor
{
    private const string CallerKey = "cratus.caller";

    /// <summary>The caller of this call, or null when it carried no token.</summary>
    public static Caller? CallerOf(ServerCallContext context) => context.GetHttpContext().Items[CallerKey] as Caller;

    private async Task IdentifyAsync(ServerCallContext context)
    {
        var http = context.GetHttpContext();
        Caller? caller = null;
        if (http.User.Identity?.IsAuthenticated == true)
        {
            caller = resolver.Resolve(http.User)
                ?? throw RichStatus.Exception(StatusCode.Unauthenticated, ErrorReason.TokenClaimsInvalid,
                    "The access token does not name exactly one known role and a subject. Sign in again.");
            if (options.Value.Mode == IdentityMode.Embedded
                && await accountCheck.ProblemAsync(caller, http.User.FindFirst("oi_tkn_id")?.Value, context.CancellationToken) is { } refusal)
                throw refusal.ToException();
            http.Items[CallerKey] = caller;
        }
        if (http.GetEndpoint()?.Metadata.GetMetadata<RunsAttribute>() is { } runs && !ApplicationExtensions.IsPublic(runs.UseCase))
            Permissions.Demand(runs.UseCase, caller);
    }

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        await IdentifyAsync(context);
        return await continuation(request, context);
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await IdentifyAsync(context);
        return await continuation(requestStream, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await IdentifyAsync(context);
        await continuation(request, responseStream, context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await IdentifyAsync(context);
        await continuation(requestStream, responseStream, context);
    }
}
