using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

public sealed class IdentityGrpcService(Accounts accounts) : IdentityService.IdentityServiceBase
{
    public override async Task<LoginResponse> Login(LoginRequest request, ServerCallContext context) =>
        new() { Tokens = ToProto(await accounts.LoginAsync(request.UserName, request.Password, request.TotpCode, context.CancellationToken)) };

    public override async Task<RefreshTokenResponse> RefreshToken(RefreshTokenRequest request, ServerCallContext context) =>
        new() { Tokens = ToProto(await accounts.RefreshAsync(request.RefreshToken, context.CancellationToken)) };

    public override async Task<BootstrapAdministratorResponse> BootstrapAdministrator(BootstrapAdministratorRequest request, ServerCallContext context)
    {
        await accounts.BootstrapAdministratorAsync(request.BootstrapSecret, request.UserName, request.Password, context.CancellationToken);
        return new BootstrapAdministratorResponse { UserName = request.UserName };
    }

    public override async Task<BeginTotpEnrollmentResponse> BeginTotpEnrollment(BeginTotpEnrollmentRequest request, ServerCallContext context)
    {
        var enrollment = await accounts.BeginTotpEnrollmentAsync(AccessInterceptor.CallerOf(context), context.CancellationToken);
        return new BeginTotpEnrollmentResponse { SharedKey = enrollment.SharedKey, AuthenticatorUri = enrollment.AuthenticatorUri };
    }

    public override async Task<ConfirmTotpEnrollmentResponse> ConfirmTotpEnrollment(ConfirmTotpEnrollmentRequest request, ServerCallContext context)
    {
        await accounts.ConfirmTotpEnrollmentAsync(AccessInterceptor.CallerOf(context), request.Code, context.CancellationToken);
        return new ConfirmTotpEnrollmentResponse();
    }

    public override async Task<ChangePasswordResponse> ChangePassword(ChangePasswordRequest request, ServerCallContext context)
    {
        await accounts.ChangePasswordAsync(AccessInterceptor.CallerOf(context), request.CurrentPassword, request.NewPassword, context.CancellationToken);
        return new ChangePasswordResponse();
    }

    private static SessionTokens ToProto(SignedIn s) => new()
    {
        AccessToken = s.Tokens.AccessToken,
        AccessTokenExpiresAt = Timestamp.FromDateTimeOffset(s.Tokens.AccessTokenExpiresAt),
        RefreshToken = s.Tokens.RefreshToken,
        RefreshTokenExpiresAt = Timestamp.FromDateTimeOffset(s.Tokens.RefreshTokenExpiresAt),
        Role = s.Role,
        Sites = { s.Sites },
    };
}
