namespace Ori.Sockets.Generators;

/// <summary>Metadata names of the types the generator looks for.</summary>
internal static class MetadataNames
{
    public const string SocketMessageAttribute = "Ori.Sockets.SocketMessageAttribute";
    public const string SocketRouteAttribute = "Ori.Sockets.SocketRouteAttribute";
    public const string SocketEndpointAttribute = "Ori.Sockets.SocketEndpointAttribute";
    public const string ConnectionGuardAttribute = "Ori.Sockets.ConnectionGuardAttribute";
    public const string MessageGuardAttribute = "Ori.Sockets.MessageGuardAttribute";
    public const string RateLimitAttribute = "Ori.Sockets.RateLimitAttribute";
    public const string RecoverableTopicAttribute = "Ori.Sockets.RecoverableTopicAttribute";
    public const string AuthorizeAttribute = "Microsoft.AspNetCore.Authorization.AuthorizeAttribute";
    public const string AllowAnonymousAttribute = "Microsoft.AspNetCore.Authorization.AllowAnonymousAttribute";
    public const string ISocketMessage = "Ori.Sockets.ISocketMessage`1";
    public const string ISocketRequest = "Ori.Sockets.ISocketRequest`1";
    public const string SocketContext = "Ori.Sockets.SocketContext";
    public const string SocketContextOfT = "Ori.Sockets.SocketContext`1";
    public const string IConnectionGuard = "Ori.Sockets.IConnectionGuard";
    public const string ConnectionGuardOfT = "Ori.Sockets.ConnectionGuard`1";
    public const string IMessageGuard = "Ori.Sockets.IMessageGuard";
    public const string JsonPropertyNameAttribute = "System.Text.Json.Serialization.JsonPropertyNameAttribute";
    public const string JsonIgnoreAttribute = "System.Text.Json.Serialization.JsonIgnoreAttribute";
    public const string JsonStringEnumMemberNameAttribute = "System.Text.Json.Serialization.JsonStringEnumMemberNameAttribute";
    public const string DataAnnotations = "System.ComponentModel.DataAnnotations.";
}
