using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application.Identity;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

public sealed class IdentityGrpcService(
    SignIn signIn, RefreshSession refresh, Application.Identity.BootstrapAdministrator bootstrap, BeginTotpEnrollment beginTotp,
    ConfirmTotpEnrollment confirmTotp, Application.Identity.ChangePassword changePassword) : IdentityService.IdentityServiceBase
{
    [Runs(typeof(SignIn))]
    public override async Task<LoginResponse> Login(LoginRequest request, ServerCallContext context) =>
        new() { Tokens = ToProto(await signIn.RunAsync(new SignInCommand(request.UserName, request.Password, request.TotpCode), context.CancellationToken)) };

    [Runs(typeof(RefreshSession))]
    public override async Task<RefreshTokenResponse> RefreshToken(RefreshTokenRequest request, ServerCallContext context) =>
        new() { Tokens = ToProto(await refresh.RunAsync(request.RefreshToken, context.CancellationToken)) };

    [Runs(typeof(Application.Identity.BootstrapAdministrator))]
    public override async Task<BootstrapAdministratorResponse> BootstrapAdministrator(BootstrapAdministratorRequest request, ServerCallContext context) =>
        new() { UserName = await bootstrap.RunAsync(new BootstrapCommand(request.BootstrapSecret, request.UserName, request.Password, request.FullName), context.CancellationToken) };

    [Runs(typeof(BeginTotpEnrollment))]
    public override async Task<BeginTotpEnrollmentResponse> BeginTotpEnrollment(BeginTotpEnrollmentRequest request, ServerCallContext context)
    {
        var enrollment = await beginTotp.RunAsync(AccessInterceptor.CallerOf(context), default, context.CancellationToken);
        return new BeginTotpEnrollmentResponse { SharedKey = enrollment.SharedKey, AuthenticatorUri = enrollment.AuthenticatorUri };
    }

    [Runs(typeof(ConfirmTotpEnrollment))]
    public override async Task<ConfirmTotpEnrollmentResponse> ConfirmTotpEnrollment(ConfirmTotpEnrollmentRequest request, ServerCallContext context)
    {
        await confirmTotp.RunAsync(AccessInterceptor.CallerOf(context), request.Code, context.CancellationToken);
        return new ConfirmTotpEnrollmentResponse();
    }

    [Runs(typeof(Application.Identity.ChangePassword))]
    public override async Task<ChangePasswordResponse> ChangePassword(ChangePasswordRequest request, ServerCallContext context)
    {
        await changePassword.RunAsync(AccessInterceptor.CallerOf(context), new PasswordChange(request.CurrentPassword, request.NewPassword), context.CancellationToken);
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
