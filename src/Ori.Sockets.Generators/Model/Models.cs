using Ori.Sockets.Generators.Helpers;

namespace Ori.Sockets.Generators.Model;

// The models hold strings, numbers and other models only: no ISymbol, SyntaxNode, Compilation or
// Location, so that an unchanged model compares equal across compilations and its output is cached.

/// <summary>How a type is serialized.</summary>
internal enum SerialKind
{
    /// <summary>A built-in: <see cref="TypeModel.Name"/> is a property of SocketSerializers (String, Int32, ...).</summary>
    Builtin,

    /// <summary>A type with its own serializer: <c>T.Serializer</c> (ISocketMessage).</summary>
    Message,

    /// <summary>A class, record or struct whose serializer this compilation generates.</summary>
    Object,

    /// <summary>An enum whose serializer this compilation generates.</summary>
    Enum,

    /// <summary>A nullable value type over <see cref="TypeModel.Element"/>.</summary>
    NullableValue,

    /// <summary>An array of <see cref="TypeModel.Element"/>.</summary>
    Array,

    /// <summary>A List or a list interface of <see cref="TypeModel.Element"/>.</summary>
    List,

    /// <summary>A dictionary with string keys and values of <see cref="TypeModel.Element"/>.</summary>
    Dictionary,
}

/// <summary>A type as a serializer sees it.</summary>
/// <param name="Kind">How it is serialized.</param>
/// <param name="Fqn">The fully qualified name, <c>global::</c> included, without nullable annotation.</param>
/// <param name="Name">For built-ins, the SocketSerializers member; otherwise the short name.</param>
/// <param name="Element">The element, value or underlying type.</param>
/// <param name="NullableReference">A reference type annotated <c>?</c>: JSON null is allowed.</param>
/// <param name="IsReferenceType">Whether null is a possible value.</param>
/// <param name="IsNumeric">A number (for [Range] and schemas).</param>
/// <param name="IsInterface">A list or dictionary declared as an interface (IReadOnlyList, IDictionary…): read into the concrete collection.</param>
internal sealed record TypeModel(SerialKind Kind, string Fqn, string Name, TypeModel? Element, bool NullableReference, bool IsReferenceType, bool IsNumeric, bool IsInterface = false)
{
    /// <summary>The declared type, nullable annotation included.</summary>
    public string DeclaredFqn => NullableReference ? Fqn + "?" : Fqn;
}

/// <summary>The data-annotation rules of one member.</summary>
internal sealed record ConstraintModel(
    bool Required,
    bool AllowEmptyStrings,
    int? MinLength,
    int? MaxLength,
    bool LengthIsCount,
    double? RangeMin,
    double? RangeMax,
    bool RangeMinExclusive,
    bool RangeMaxExclusive,
    EquatableArray<string> AllowedValues,
    EquatableArray<string> AllowedJson,
    string? Pattern)
{
    public static readonly ConstraintModel None = new(false, false, null, null, false, null, null, false, false, EquatableArray<string>.Empty, EquatableArray<string>.Empty, null);
}

/// <summary>One serialized member of an object type.</summary>
/// <param name="ClrName">The property name in C#.</param>
/// <param name="JsonName">The member name in JSON.</param>
/// <param name="Type">Its type.</param>
/// <param name="Required">Missing is a failure.</param>
/// <param name="CanRead">It can be set when reading (constructor parameter, init or set accessor).</param>
/// <param name="ConstructorIndex">The constructor parameter it fills, or -1.</param>
/// <param name="DefaultLiteral">The constructor parameter's default value as C#, when it has one.</param>
/// <param name="Constraints">Its data-annotation rules.</param>
/// <param name="Setter">How a value read from JSON is stored when it is not a constructor argument.</param>
/// <param name="SetterOwnerFqn">The type that declares the property (an init accessor is called on it).</param>
internal sealed record MemberModel(
    string ClrName,
    string JsonName,
    TypeModel Type,
    bool Required,
    bool CanRead,
    int ConstructorIndex,
    string? DefaultLiteral,
    ConstraintModel Constraints,
    SetterKind Setter = SetterKind.None,
    string? SetterOwnerFqn = null);

/// <summary>How a member that is not a constructor argument is stored.</summary>
internal enum SetterKind
{
    /// <summary>It is a constructor argument, or cannot be set.</summary>
    None,

    /// <summary>A C# <c>required</c> member: always in the object initializer.</summary>
    RequiredMember,

    /// <summary>A public <c>set</c> accessor: assigned after creation when present in the JSON.</summary>
    Set,

    /// <summary>An <c>init</c> accessor: called after creation (through an UnsafeAccessor) when present, so that its initializer stays otherwise.</summary>
    Init,
}

/// <summary>A type whose serializer is generated: an object type (members) or an enum (names and values).</summary>
internal sealed record ShapeModel(
    string Fqn,
    string Name,
    bool IsEnum,
    bool IsValueType,
    EquatableArray<MemberModel> Members,
    int ConstructorParameterCount,
    EquatableArray<EnumMemberModel> EnumMembers)
{
    /// <summary>The generated serializer class's name (unique in its file).</summary>
    public string SerializerName => Fqn.ToIdentifier() + "_Serializer";
}

/// <summary>One enum member: its C# name and its JSON string.</summary>
internal sealed record EnumMemberModel(string ClrName, string JsonName);

/// <summary>
/// A [SocketMessage] partial type: its name on the wire, its shape, the plain shapes its serializer needs
/// (<see cref="Dependencies"/>, whose serializers are emitted once per compilation) and the shapes only its
/// schema needs (<see cref="SchemaOnlyShapes"/>: the messages it reaches, described member by member).
/// </summary>
internal sealed record MessageModel(
    string Namespace,
    EquatableArray<string> ContainingTypes,
    string TypeKeyword,
    string Name,
    string Fqn,
    string WireName,
    ShapeModel Shape,
    EquatableArray<ShapeModel> Dependencies,
    EquatableArray<ShapeModel> SchemaOnlyShapes,
    TypeModel? Reply = null)
{
    public string HintName => Fqn.ToIdentifier().TrimStart('_') + ".g.cs";
}

/// <summary>A message an application can exchange, for its TypeScript: its name on the wire, its reply (requests), the shapes that describe it.</summary>
internal sealed record ContractMessageModel(string WireName, string Fqn, TypeModel? Reply, EquatableArray<ShapeModel> Shapes);

/// <summary>An application's contracts: its name (the AsyncAPI title) and every message it can exchange.</summary>
internal sealed record ContractsModel(string Title, EquatableArray<ContractMessageModel> Messages);

/// <summary>How a handler takes its context.</summary>
internal enum ContextKind
{
    None,
    Untyped,
    Typed,
}

/// <summary>How a handler returns.</summary>
internal enum ReturnKind
{
    Void,
    Task,
    ValueTask,
    Value,
    TaskOfT,
    ValueTaskOfT,
}

/// <summary>A parameter of a handler, in order.</summary>
internal enum ParameterKind
{
    Message,
    Context,
    CancellationToken,
}

/// <summary>One route: a handler method and how to call it. Router facts live in its <see cref="RouterModel"/>.</summary>
internal sealed record RouteModel(
    string RouteName,
    string RouterFqn,
    string MethodName,
    bool IsStatic,
    EquatableArray<ParameterKind> Parameters,
    TypeModel? Message,
    ContextKind Context,
    string? StateFqn,
    ReturnKind Return,
    TypeModel? Reply,
    EquatableArray<GuardModel> MessageGuards,
    EquatableArray<ShapeModel> Dependencies,
    RateLimitModel? RateLimit = null,
    EquatableArray<AuthorizeModel> Authorization = default);

/// <summary>One [Authorize]: its policy, roles and schemes (null when not given).</summary>
internal sealed record AuthorizeModel(string? Policy, string? Roles, string? AuthenticationSchemes);

/// <summary>A [RateLimit]: a message budget per connection.</summary>
internal sealed record RateLimitModel(double PermitsPerSecond, int Burst);

/// <summary>A router class: how to create it, and the message guards of all its routes.</summary>
/// <param name="Fqn">Its fully qualified name.</param>
/// <param name="ConstructorArguments">The service types of the constructor generated code calls.</param>
/// <param name="MessageGuards">The guards its [MessageGuard] attributes declare, in order.</param>
internal sealed record RouterModel(string Fqn, EquatableArray<string> ConstructorArguments, EquatableArray<GuardModel> MessageGuards, RateLimitModel? RateLimit = null, EquatableArray<RecoverableTopicModel> RecoverableTopics = default);

/// <summary>A [RecoverableTopic] on a router: a pattern and its history's bounds, checked.</summary>
internal sealed record RecoverableTopicModel(string Pattern, int MaxMessages, int MaxAgeSeconds);

/// <summary>A [SocketEndpoint] class: its routers, guards and the state its connection guards set.</summary>
/// <param name="Namespace">Its namespace, empty for the global one.</param>
/// <param name="Name">Its name.</param>
/// <param name="Fqn">Its fully qualified name.</param>
/// <param name="Routers">The routers it serves (fully qualified), distinct, in declaration order.</param>
/// <param name="ConnectionGuards">Its connection guards, in order.</param>
/// <param name="MessageGuards">Its message guards, in order; they run before every route it serves.</param>
/// <param name="StateFqn">The state its guards set (from ConnectionGuard&lt;TState&gt;), or null.</param>
/// <param name="StateAssignableTo">Every type the state converts to by reference (itself, its bases, its interfaces).</param>
internal sealed record EndpointModel(
    string Namespace,
    string Name,
    string Fqn,
    EquatableArray<string> Routers,
    EquatableArray<GuardModel> ConnectionGuards,
    EquatableArray<GuardModel> MessageGuards,
    string? StateFqn,
    EquatableArray<string> StateAssignableTo,
    bool RequiresAuthorization = false);

/// <summary>A guard type and its constructor's arguments (service types), so generated code can create it without reflection.</summary>
internal sealed record GuardModel(string Fqn, EquatableArray<string> ConstructorArguments);
